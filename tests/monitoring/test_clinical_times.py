"""Clinical times come from the server's clock: an earlier time only inside the late-entry
window, never before the check-in, never in the future, never after the discharge; a late entry
is marked on the record, the page, the REMS record and the audit row. The day's actions happen on
the session's day, in order."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from clinic.models import AuditEvent
from monitoring import services
from monitoring.models import (
    AdverseEvent,
    CheckIn,
    ClinicalThresholds,
    DeviceAdministration,
    Discharge,
    DoseRecord,
    Observation,
    VitalsReading,
)
from tests.monitoring.conftest import CHECKLIST_ALL, DAY_START, NORMAL, vitals_post

pytestmark = pytest.mark.django_db

AT_0905 = DAY_START + dt.timedelta(minutes=5)
READY = {"alert": "on", "oriented": "on", "steady": "on", "picked_up_by": "Jordan Example"}


def url(name, session):
    return reverse(f"monitoring:{name}", args=[session.pk])


def check_in_post(**overrides):
    return {**dict.fromkeys(CHECKLIST_ALL, "on"), **overrides}


def snapshot(session):
    """What the session day has stored: a refusal must leave all of it as it was."""
    session.refresh_from_db()
    return (
        session.status,
        session.version,
        list(CheckIn.objects.filter(session=session).values()),
        list(VitalsReading.objects.filter(session=session).values()),
        list(DoseRecord.objects.filter(session=session).values()),
        list(DeviceAdministration.objects.filter(dose__session=session).values()),
        list(Observation.objects.filter(session=session).values()),
        list(AdverseEvent.objects.filter(session=session).values()),
        Discharge.objects.filter(observation__session=session).count(),
    )


def ready_to_dose(session, nurse, at=AT_0905):
    with time_machine.travel(at, tick=False):
        services.session_check_in(session=session, user=nurse, checklist=CHECKLIST_ALL)
        services.vitals_record(session=session, user=nurse, kind="pre_dose", values=NORMAL)
    return session


# --- Rule 1: times from the server's clock ---------------------------------------------


def test_a_first_device_typed_three_hours_earlier_is_refused(client_for, nurse, session):
    ready_to_dose(session, nurse)
    before = snapshot(session)
    with time_machine.travel(AT_0905 + dt.timedelta(minutes=5), tick=False):
        response = client_for(nurse).post(
            url("dose-record", session), {"dose_mg": "56", "lot_number": "LOT1", "started_at": "06:10"}
        )
    assert response.status_code == 200
    assert "A time more than 15 minutes ago cannot be entered" in response.content.decode()
    assert response.context["dose_form"].has_error("started_at", code="too_late")
    assert snapshot(session) == before


def test_a_discharge_seconds_after_the_dose_is_impossible(client_for, nurse, session):
    """The issue's bypass: the dose timed three hours back, then discharge 1.3 s later."""
    ready_to_dose(session, nurse)
    client = client_for(nurse)
    dosed = AT_0905 + dt.timedelta(minutes=5)
    with time_machine.travel(dosed, tick=False):
        client.post(url("dose-record", session), {"dose_mg": "56", "lot_number": "LOT1", "started_at": "06:10"})
        response = client.post(url("dose-record", session), {"dose_mg": "56", "lot_number": "LOT1"})
    assert response.status_code == 302
    assert Observation.objects.get(session=session).started_at == dosed
    with time_machine.travel(dosed + dt.timedelta(seconds=1), tick=False):
        services.vitals_record(session=session, user=nurse, kind="discharge", values=NORMAL)
    before = snapshot(session)
    with time_machine.travel(dosed + dt.timedelta(seconds=1.3), tick=False):
        response = client.post(url("discharge", session), READY)
    assert response.status_code == 200
    assert "120 minutes of observation end at 11:10" in response.content.decode()
    assert snapshot(session) == before


def test_a_time_ahead_of_the_clock_is_refused(client_for, nurse, session):
    ready_to_dose(session, nurse)
    with time_machine.travel(AT_0905 + dt.timedelta(minutes=1), tick=False):
        before = snapshot(session)
        # 09:20 typed at 09:06 is read as yesterday's 09:20, long before the window.
        response = client_for(nurse).post(
            url("vitals-record", session), vitals_post(checkpoint="pre_dose", taken_at="09:20")
        )
        assert response.status_code == 200
        assert response.context["vitals_form"].has_error("taken_at", code="too_late")
        assert snapshot(session) == before
        # Eleven hours ahead, sent by a client that bypasses the form.
        with pytest.raises(Exception, match="cannot be later than now"):
            services.vitals_record(
                session=session, user=nurse, kind="extra", values=NORMAL, taken_at=AT_0905 + dt.timedelta(hours=11)
            )
        assert snapshot(session) == before


def test_two_minutes_of_clock_skew_are_accepted_as_now(nurse, session):
    ready_to_dose(session, nurse)
    with time_machine.travel(AT_0905 + dt.timedelta(minutes=3), tick=False):
        reading = services.vitals_record(
            session=session, user=nurse, kind="extra", values=NORMAL, taken_at=AT_0905 + dt.timedelta(minutes=5)
        )
    assert not reading.late_entry


def test_a_late_entry_inside_the_window_is_accepted_and_marked(client_for, nurse, session):
    ready_to_dose(session, nurse, at=DAY_START)
    client = client_for(nurse)
    with time_machine.travel(DAY_START + dt.timedelta(minutes=14), tick=False):
        response = client.post(url("vitals-record", session), vitals_post(checkpoint="pre_dose", taken_at="09:02"))
        assert response.status_code == 302
        reading = VitalsReading.objects.filter(session=session).latest("pk")
        assert reading.taken_at == DAY_START + dt.timedelta(minutes=2) and reading.late_entry
        page = client.get(url("session-day", session)).content.decode()
    assert "late entry, entered 09:14" in page
    audit = AuditEvent.objects.get(object_type="vitalsreading", object_id=str(reading.pk))
    assert audit.summary["late_entry"] == {"taken_at": reading.taken_at.isoformat()}


def test_the_late_entry_window_is_the_administrators(client_for, nurse, session):
    ClinicalThresholds.current()
    ClinicalThresholds.objects.filter(pk=1).update(late_entry_window_minutes=30)
    ready_to_dose(session, nurse, at=DAY_START)
    with time_machine.travel(DAY_START + dt.timedelta(minutes=25), tick=False):
        response = client_for(nurse).post(
            url("vitals-record", session), vitals_post(checkpoint="pre_dose", taken_at="09:01")
        )
    assert response.status_code == 302


def test_a_reading_before_the_arrival_is_refused(client_for, nurse, session):
    ready_to_dose(session, nurse)
    with time_machine.travel(AT_0905 + dt.timedelta(minutes=5), tick=False):
        before = snapshot(session)
        response = client_for(nurse).post(
            url("vitals-record", session), vitals_post(checkpoint="pre_dose", taken_at="09:01")
        )
    assert response.status_code == 200
    assert "The patient arrived at 09:05" in response.content.decode()
    assert response.context["vitals_form"].has_error("taken_at", code="before_check_in")
    assert snapshot(session) == before


def test_the_first_device_cannot_come_before_the_pre_dose_reading(client_for, nurse, session):
    ready_to_dose(session, nurse, at=DAY_START + dt.timedelta(minutes=8))
    with time_machine.travel(DAY_START + dt.timedelta(minutes=12), tick=False):
        before = snapshot(session)
        response = client_for(nurse).post(
            url("dose-record", session), {"dose_mg": "56", "lot_number": "L1", "started_at": "09:07"}
        )
    assert response.status_code == 200
    assert response.context["dose_form"].has_error("started_at")
    assert snapshot(session) == before


def test_a_late_first_device_is_marked_on_the_page_the_rems_record_and_the_audit(
    client_for, nurse, administrator, session
):
    ready_to_dose(session, nurse, at=DAY_START)
    with time_machine.travel(DAY_START + dt.timedelta(minutes=12), tick=False):
        response = client_for(nurse).post(
            url("dose-record", session), {"dose_mg": "56", "lot_number": "L1", "started_at": "09:03"}
        )
        assert response.status_code == 302
        device = DeviceAdministration.objects.get(dose__session=session)
        assert device.late_entry and device.administered_at == DAY_START + dt.timedelta(minutes=3)
        assert Observation.objects.get(session=session).started_at == device.administered_at
        page = client_for(nurse).get(url("session-day", session)).content.decode()
        assert "late entry, entered 09:12" in page
        rems = client_for(administrator).get(url("rems-record", session)).content.decode()
    assert "Device 1 at 09:03 (entered 09:12)" in rems
    dose = DoseRecord.objects.get(session=session)
    assert AuditEvent.objects.get(object_type="doserecord", object_id=str(dose.pk)).summary["late_entry"]


def test_a_device_after_the_discharge_is_refused(client_for, nurse, make_session, patient, run_to_discharge):
    run_to_discharge(session := make_session(patient))
    # A device still to give after the discharge.
    DoseRecord.objects.filter(session=session).update(devices_planned=3)
    with time_machine.travel(DAY_START + dt.timedelta(minutes=140), tick=False):
        before = snapshot(session)
        response = client_for(nurse).post(url("device-record", session), {})
    assert response.status_code == 200
    assert "The patient has been discharged" in response.content.decode()
    assert snapshot(session) == before


def test_a_reading_after_the_discharge_is_refused(client_for, nurse, session, run_to_discharge):
    run_to_discharge(session)
    with time_machine.travel(DAY_START + dt.timedelta(minutes=140), tick=False):
        before = snapshot(session)
        response = client_for(nurse).post(url("vitals-record", session), vitals_post(checkpoint="extra"))
    assert response.status_code == 200
    assert snapshot(session) == before


def test_an_arrival_typed_before_the_window_is_refused(client_for, nurse, session):
    with time_machine.travel(AT_0905 + dt.timedelta(minutes=20), tick=False):
        before = snapshot(session)
        response = client_for(nurse).post(url("check-in", session), check_in_post(arrived_at="09:00"))
    assert response.status_code == 200
    assert response.context["checkin_form"].has_error("arrived_at", code="too_late")
    assert snapshot(session) == before


def test_an_arrival_inside_the_window_is_marked_late(client_for, nurse, session):
    with time_machine.travel(AT_0905 + dt.timedelta(minutes=10), tick=False):
        response = client_for(nurse).post(url("check-in", session), check_in_post(arrived_at="09:05"))
        assert response.status_code == 302
        checkin = CheckIn.objects.get(session=session)
        assert checkin.arrived_at == AT_0905 and checkin.arrival_late_entry
        # Updating the checklist later keeps the arrival.
    with time_machine.travel(AT_0905 + dt.timedelta(minutes=40), tick=False):
        client_for(nurse).post(url("check-in", session), check_in_post())
    checkin.refresh_from_db()
    assert checkin.arrived_at == AT_0905


def test_an_adverse_event_onset_follows_the_same_rule(client_for, nurse, session, run_to_observation):
    run_to_observation(session)
    with time_machine.travel(DAY_START + dt.timedelta(minutes=50), tick=False):
        before = snapshot(session)
        response = client_for(nurse).post(
            url("adverse-event", session),
            {"kind": "nausea_vomiting", "severity": "mild", "action_taken": "Bowl", "onset_at": "09:00"},
        )
    assert response.status_code == 200
    assert response.context["event_form"].has_error("onset_at", code="too_late")
    assert snapshot(session) == before


def test_an_infusion_end_before_the_window_is_refused(client_for, nurse, make_session, patient, iv_protocol):
    session = make_session(patient, protocol_=iv_protocol, dose="35")
    ready_to_dose(session, nurse)
    with time_machine.travel(AT_0905 + dt.timedelta(minutes=1), tick=False):
        services.dose_record(session=session, user=nurse, dose_mg=35, weight_kg=70, mg_per_kg="0.5")
    with time_machine.travel(AT_0905 + dt.timedelta(minutes=60), tick=False):
        before = snapshot(session)
        response = client_for(nurse).post(url("infusion-end", session), {"ended_at": "09:30"})
        assert response.status_code == 200
        assert response.context["infusion_form"].has_error("ended_at", code="too_late")
        assert snapshot(session) == before
        response = client_for(nurse).post(url("infusion-end", session), {"ended_at": "09:55"})
    assert response.status_code == 302
    dose = DoseRecord.objects.get(session=session)
    assert dose.infusion_end_late_entry and dose.infusion_end == DAY_START + dt.timedelta(minutes=55)


# --- Rule 2: the day's order -------------------------------------------------------------


def test_no_check_in_on_another_day(client_for, nurse, make_session, patient):
    """The issue's case: booked for one day, checked in days before."""
    session = make_session(patient, start=DAY_START + dt.timedelta(days=4))
    before = snapshot(session)
    with time_machine.travel(AT_0905, tick=False):
        response = client_for(nurse).post(url("check-in", session), check_in_post())
    assert response.status_code == 200
    assert "This session is booked for Sat 21 Nov: check in on that day." in response.content.decode()
    assert response.context["checkin_form"].has_error("__all__", code="other_day")
    assert snapshot(session) == before


def test_no_check_in_before_the_window_opens(client_for, nurse, make_session, patient):
    session = make_session(patient, start=DAY_START + dt.timedelta(hours=5))  # 14:00
    before = snapshot(session)
    with time_machine.travel(DAY_START + dt.timedelta(hours=2, minutes=59), tick=False):
        response = client_for(nurse).post(url("check-in", session), check_in_post())
    assert response.status_code == 200
    assert "Check-in for this session opens at 12:00." in response.content.decode()
    assert snapshot(session) == before
    with time_machine.travel(DAY_START + dt.timedelta(hours=3), tick=False):
        response = client_for(nurse).post(url("check-in", session), check_in_post())
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.status == "checked_in"


def test_no_dose_before_the_check_in(client_for, nurse, session):
    before = snapshot(session)
    with time_machine.travel(AT_0905, tick=False):
        response = client_for(nurse).post(url("dose-record", session), {"dose_mg": "56", "lot_number": "L1"})
    assert response.status_code == 200
    assert snapshot(session) == before


def test_no_dose_before_the_pre_dose_checks(client_for, nurse, session):
    with time_machine.travel(AT_0905, tick=False):
        services.session_check_in(session=session, user=nurse, checklist=CHECKLIST_ALL)
        before = snapshot(session)
        response = client_for(nurse).post(url("dose-record", session), {"dose_mg": "56", "lot_number": "L1"})
    assert response.status_code == 200
    assert "No pre-dose vitals recorded yet" in response.content.decode()
    assert snapshot(session) == before
