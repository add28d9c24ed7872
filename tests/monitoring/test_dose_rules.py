"""Doses are consistent with the protocol: esketamine 56 or 84 mg (56 mg for the first dose of a
course unless a prescriber overrides), never 0 mg; IV ketamine by weight within the protocol's
mg/kg range. Every planned device is recorded, five minutes apart, before discharge, or the nurse
records why dosing stopped early."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from monitoring import rules, services
from monitoring.models import AdverseEvent, DeviceAdministration, Discharge, DoseRecord, Observation, PrescriberOverride
from tests.monitoring.conftest import CHECKLIST_ALL, DAY_START, NORMAL

pytestmark = pytest.mark.django_db

AT_0905 = DAY_START + dt.timedelta(minutes=5)
DOSED = DAY_START + dt.timedelta(minutes=10)
READY = {"alert": "on", "oriented": "on", "steady": "on", "picked_up_by": "Jordan Example"}


def url(name, session):
    return reverse(f"monitoring:{name}", args=[session.pk])


def ready_to_dose(session, nurse):
    with time_machine.travel(AT_0905, tick=False):
        services.session_check_in(session=session, user=nurse, checklist=CHECKLIST_ALL)
        services.vitals_record(session=session, user=nurse, kind="pre_dose", values=NORMAL)
    return session


def stored(session):
    session.refresh_from_db()
    return (
        session.status,
        DoseRecord.objects.filter(session=session).count(),
        DeviceAdministration.objects.filter(dose__session=session).count(),
        Observation.objects.filter(session=session).count(),
        list(DoseRecord.objects.filter(session=session).values()),
        Discharge.objects.filter(observation__session=session).count(),
    )


def post_dose(client, session, **data):
    with time_machine.travel(AT_0905 + dt.timedelta(minutes=2), tick=False):
        return client.post(url("dose-record", session), {"lot_number": "LOT1", **data})


@pytest.mark.parametrize(
    ("dose", "code", "message"),
    [
        ("0", "zero", "a dose of 0 mg cannot be given"),
        ("70", "not_allowed", "This protocol allows 56 or 84 mg."),
        ("112", "not_allowed", "This protocol allows 56 or 84 mg."),
        ("84", "first_dose", "The first dose of a course is 56 mg"),
    ],
)
def test_a_dose_the_protocol_does_not_allow_is_refused(client_for, nurse, session, dose, code, message):
    ready_to_dose(session, nurse)
    before = stored(session)
    response = post_dose(client_for(nurse), session, dose_mg=dose)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert response.context["dose_form"].has_error("dose_mg", code=code)
    assert stored(session) == before


def test_an_empty_dose_is_the_planned_dose(client_for, nurse, session):
    ready_to_dose(session, nurse)
    assert post_dose(client_for(nurse), session, dose_mg="").status_code == 302
    assert DoseRecord.objects.get(session=session).dose_mg == 56


def test_a_prescriber_may_allow_another_first_dose(client_for, nurse, prescriber, session):
    ready_to_dose(session, nurse)
    page = client_for(prescriber).get(url("session-day", session)).content.decode()
    assert "First dose of the course: 56 mg" in page and "Allow another first dose" in page
    with time_machine.travel(AT_0905, tick=False):
        refused = client_for(prescriber).post(url("first-dose-override", session), {"reason": " "})
        assert refused.status_code == 200 and not PrescriberOverride.objects.exists()
        assert client_for(nurse).post(url("first-dose-override", session), {"reason": "x"}).status_code == 403
        response = client_for(prescriber).post(
            url("first-dose-override", session), {"reason": "Tolerated 84 mg in a previous course"}
        )
    assert response.status_code == 302
    assert post_dose(client_for(nurse), session, dose_mg="84").status_code == 302
    assert DoseRecord.objects.get(session=session).devices_planned == 3


def test_a_later_session_of_the_course_may_have_84_mg(client_for, nurse, make_session, patient, run_to_discharge):
    first = run_to_discharge(
        make_session(patient, start=DAY_START - dt.timedelta(days=3)), dosed_at=DAY_START - dt.timedelta(days=3)
    )
    second = make_session(patient, dose="84")
    assert second.course_id == first.course_id
    ready_to_dose(second, nurse)
    assert post_dose(client_for(nurse), second, dose_mg="84").status_code == 302


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"mg_per_kg": "0.5"}, "weight_kg", "Enter the patient&#x27;s weight"),
        ({"weight_kg": "70", "mg_per_kg": "2.0"}, "mg_per_kg", "This protocol&#x27;s dose is 0.5 to 1 mg/kg."),
        ({"weight_kg": "70", "mg_per_kg": "0.25"}, "mg_per_kg", "This protocol&#x27;s dose is 0.5 to 1 mg/kg."),
        ({"weight_kg": "900", "mg_per_kg": "0.5"}, "weight_kg", "Weight must be between 20 and 350 kg."),
        ({"weight_kg": "70"}, "mg_per_kg", "Enter the dose in mg/kg."),
    ],
)
def test_an_iv_dose_outside_the_protocol_is_refused(
    client_for, nurse, make_session, patient, iv_protocol, data, field, message
):
    session = ready_to_dose(make_session(patient, protocol_=iv_protocol, dose="35"), nurse)
    before = stored(session)
    response = post_dose(client_for(nurse), session, **data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert response.context["dose_form"].has_error(field)
    assert stored(session) == before


def _observed_with_one_device(session, nurse, run_to_observation):
    run_to_observation(session, dosed_at=DOSED, devices=1)
    with time_machine.travel(DOSED + dt.timedelta(minutes=118), tick=False):
        services.vitals_record(session=session, user=nurse, kind="discharge", values=NORMAL)
    return session


def test_discharge_waits_for_every_device(client_for, nurse, session, run_to_observation):
    _observed_with_one_device(session, nurse, run_to_observation)
    before = stored(session)
    with time_machine.travel(DOSED + dt.timedelta(minutes=125), tick=False):
        response = client_for(nurse).post(url("discharge", session), READY)
        board = client_for(nurse).get(reverse("monitoring:board")).content.decode()
    assert response.status_code == 200
    assert "Devices: 1 of 2 recorded: record the next one, or record why dosing stopped early" in (
        response.content.decode()
    )
    assert "Devices: 1 of 2 recorded" in board
    assert stored(session) == before


def test_dosing_stopped_for_an_adverse_event_lets_the_discharge_go_ahead(
    client_for, nurse, session, run_to_observation
):
    _observed_with_one_device(session, nurse, run_to_observation)
    client = client_for(nurse)
    with time_machine.travel(DOSED + dt.timedelta(minutes=3), tick=False):
        before = stored(session)
        refused = client.post(url("dose-stop", session), {"cause": "adverse_event", "note": "Vomited"})
        assert refused.status_code == 200
        assert refused.context["stop_form"].has_error("adverse_event", code="event")
        assert stored(session) == before
        event = services.adverse_event_record(
            session=session, user=nurse, kind="nausea_vomiting", severity="moderate", action_taken="Stopped dosing"
        )
        response = client.post(
            url("dose-stop", session), {"cause": "adverse_event", "adverse_event": event.pk, "note": "Vomited"}
        )
    assert response.status_code == 302
    dose = DoseRecord.objects.get(session=session)
    assert dose.stopped_cause == "adverse_event" and dose.stopped_event == event and dose.stopped_by == nurse
    with time_machine.travel(DOSED + dt.timedelta(minutes=10), tick=False):
        refused = client.post(url("device-record", session), {})
        assert refused.status_code == 200 and "Dosing was stopped early" in refused.content.decode()
    assert DeviceAdministration.objects.filter(dose=dose).count() == 1
    with time_machine.travel(DOSED + dt.timedelta(minutes=125), tick=False):
        client.logout()  # idle for two hours: sign in again
        client = client_for(nurse)
        page = client.get(url("session-day", session)).content.decode()
        assert "Dosing stopped after 1 of 2 devices because of an adverse event" in page
        assert client.post(url("discharge", session), READY).status_code == 302
    assert Discharge.objects.filter(observation__session=session).exists()


def test_dosing_stopped_at_the_patients_refusal(client_for, nurse, session, run_to_observation):
    _observed_with_one_device(session, nurse, run_to_observation)
    with time_machine.travel(DOSED + dt.timedelta(minutes=4), tick=False):
        response = client_for(nurse).post(url("dose-stop", session), {"cause": "refusal", "note": "Declined device 2"})
    assert response.status_code == 302
    assert AdverseEvent.objects.count() == 0
    assert DoseRecord.objects.get(session=session).stopped_cause == "refusal"


def test_the_next_device_rule_knows_when_there_is_none():
    first = DOSED
    assert rules.next_device_at(devices_planned=2, given_at=[first]) == first + dt.timedelta(minutes=5)
    assert rules.next_device_at(devices_planned=2, given_at=[first], stopped_early=True) is None
    assert rules.next_device_at(devices_planned=2, given_at=[first, first + dt.timedelta(minutes=5)]) is None
    assert rules.next_device_at(devices_planned=2, given_at=[]) is None


def test_after_dosing_stops_early_no_page_counts_down_to_a_next_device(client_for, nurse, session, run_to_observation):
    _observed_with_one_device(session, nurse, run_to_observation)
    client = client_for(nurse)
    with time_machine.travel(DOSED + dt.timedelta(minutes=2), tick=False):
        day = client.get(url("session-day", session)).content.decode()
        board = client.get(reverse("monitoring:board")).content.decode()
        assert "Next device in" in day and 'class="small board-device"' in board
        client.post(url("dose-stop", session), {"cause": "refusal", "note": "Declined device 2"})
        day = client.get(url("session-day", session)).content.decode()
        board = client.get(reverse("monitoring:board")).content.decode()
    assert "Dosing stopped after 1 of 2 devices" in day
    assert "Next device" not in day and 'class="small board-device"' not in board
