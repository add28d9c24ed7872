"""Alerts follow the facts: correcting the flagged reading or discharging the patient closes
the alerts (who and when recorded, with an audit row); a dosing block alerts the prescribers
until the block is lifted."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from clinic.models import AuditEvent, StaffAlert
from monitoring import services, tasks
from monitoring.models import VitalsReading
from tests.monitoring.conftest import CHECKLIST_ALL, DAY_START, NORMAL, vitals_post

pytestmark = pytest.mark.django_db

AT_40 = DAY_START + dt.timedelta(minutes=51)  # dosed at 09:10: the 40-minute check at 09:51


def _flagged_checkpoint(session, nurse, **values):
    with time_machine.travel(AT_40, tick=False):
        return services.vitals_record(
            session=session, user=nurse, kind="checkpoint", checkpoint_minute=40, values={**NORMAL, **values}
        )


def _open(**filters):
    return StaffAlert.objects.filter(acknowledged_at__isnull=True, **filters)


def test_correcting_the_flagged_reading_closes_its_alert(client_for, nurse, session, run_to_observation):
    run_to_observation(session)
    reading = _flagged_checkpoint(session, nurse, systolic=218)
    alert = StaffAlert.objects.get(dedupe_key=f"vitals:reading:{reading.pk}")
    with time_machine.travel(AT_40 + dt.timedelta(minutes=1), tick=False):
        response = client_for(nurse).post(
            reverse("monitoring:vitals-correct", args=[session.pk, reading.pk]),
            vitals_post(reason="Typed 218 instead of 128"),
        )
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.acknowledged_by == nurse
    assert alert.acknowledged_at == AT_40 + dt.timedelta(minutes=1)
    audit = AuditEvent.objects.get(object_type="staffalert", object_id=str(alert.pk))
    assert audit.summary["resolved"] == "reading corrected" and audit.user == nurse
    assert not _open(session_id=session.pk, kind="vitals_out_of_range").exists()
    # The board no longer lists it.
    with time_machine.travel(AT_40 + dt.timedelta(minutes=2), tick=False):
        assert alert.message not in client_for(nurse).get(reverse("monitoring:board")).content.decode()


def test_a_correction_still_out_of_range_raises_its_own_alert(nurse, session, run_to_observation):
    run_to_observation(session)
    reading = _flagged_checkpoint(session, nurse, systolic=218)
    with time_machine.travel(AT_40 + dt.timedelta(minutes=1), tick=False):
        new = services.vitals_correct(
            reading=reading, user=nurse, values={**NORMAL, "systolic": 190}, reason="Typed 218 instead of 190"
        )
    open_ = _open(session_id=session.pk, kind="vitals_out_of_range")
    assert [a.dedupe_key for a in open_] == [f"vitals:reading:{new.pk}"]


def test_discharge_closes_the_days_alerts_and_leaves_the_others(nurse, session, run_to_discharge, site):
    # The 40-minute reading is flagged; an overdue check had been raised; a REMS alert is not the day's.
    run_to_discharge(session, checkpoint_values={**NORMAL, "spo2": 91})
    assert session.status == "discharged"
    closed = StaffAlert.objects.get(session_id=session.pk, kind="vitals_out_of_range")
    assert closed.acknowledged_by == nurse and closed.acknowledged_at is not None
    audit = AuditEvent.objects.get(object_type="staffalert", object_id=str(closed.pk))
    assert audit.summary["resolved"] == "patient discharged"


def test_discharging_closes_alerts_the_scan_raised_while_it_was_saved(nurse, session, run_to_discharge):
    run_to_discharge(session)
    # A scan that read the session in observation raises an overdue alert after the discharge.
    StaffAlert.objects.create(
        kind="checkpoint_overdue", dedupe_key=f"overdue:session:{session.pk}:checkpoint:late", session_id=session.pk
    )
    other = StaffAlert.objects.create(kind="outcome_safety", dedupe_key="other", session_id=session.pk)
    with time_machine.travel(DAY_START + dt.timedelta(hours=3), tick=False):
        tasks.alerts_scan()
        tasks.alerts_scan()  # safe twice
    assert not _open(session_id=session.pk, kind="checkpoint_overdue").exists()
    assert StaffAlert.objects.get(kind="checkpoint_overdue").acknowledged_by == nurse
    assert _open(pk=other.pk).exists()  # the item-9 follow-up is a person's to close


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """committed(): a block after which what the services left for the commit has run (a test's
    transaction never commits)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def blocked(nurse, session, committed):
    """Check in at 09:00 and record a pre-dose reading at 09:01 (168 mmHg: dosing blocked)."""

    def run(systolic=168):
        with time_machine.travel(DAY_START, tick=False):
            services.session_check_in(session=session, user=nurse, arrived_at=DAY_START, checklist=CHECKLIST_ALL)
        with time_machine.travel(DAY_START + dt.timedelta(minutes=1), tick=False), committed():
            return services.vitals_record(
                session=session, user=nurse, kind="pre_dose", values={**NORMAL, "systolic": systolic}
            )

    return run


def test_a_dosing_block_alerts_the_sites_prescribers(client_for, nurse, prescriber, session, site, blocked):
    blocked()
    alert = _open(session_id=session.pk, kind="dosing_blocked").get()
    assert alert.audience == "prescriber" and alert.site == site
    assert session.patient.full_name in alert.message and "168" in alert.message
    assert alert.url == reverse("monitoring:session-day", args=[session.pk])
    with time_machine.travel(DAY_START + dt.timedelta(minutes=2), tick=False):
        assert alert.message in client_for(prescriber).get(reverse("clinic:alerts")).content.decode()
        assert alert.message not in client_for(nurse).get(reverse("clinic:alerts")).content.decode()


def test_a_refused_reading_raises_nothing(client_for, nurse, session, blocked):
    blocked()
    StaffAlert.objects.all().delete()
    with time_machine.travel(DAY_START + dt.timedelta(minutes=2), tick=False):
        response = client_for(nurse).post(
            reverse("monitoring:vitals-record", args=[session.pk]), vitals_post(checkpoint="pre_dose", systolic=999)
        )
    assert response.status_code == 200
    assert not StaffAlert.objects.exists()


def test_the_prescribers_override_closes_the_dosing_alert(prescriber, session, blocked, committed):
    blocked()
    with time_machine.travel(DAY_START + dt.timedelta(minutes=3), tick=False), committed():
        services.predose_override(session=session, user=prescriber, reason="Repeat BP 138/86")
    alert = StaffAlert.objects.get(session_id=session.pk, kind="dosing_blocked")
    assert alert.acknowledged_by == prescriber
    assert alert.acknowledged_at == DAY_START + dt.timedelta(minutes=3)
    audit = AuditEvent.objects.get(object_type="staffalert", object_id=str(alert.pk))
    assert audit.summary["resolved"] == "dosing no longer blocked"


def test_a_new_reading_in_range_closes_it_and_a_new_high_one_replaces_it(nurse, session, blocked, committed):
    first = blocked()
    with time_machine.travel(DAY_START + dt.timedelta(minutes=4), tick=False), committed():
        second = services.vitals_record(
            session=session, user=nurse, kind="pre_dose", values={**NORMAL, "systolic": 171}
        )
    keys = list(_open(session_id=session.pk, kind="dosing_blocked").values_list("dedupe_key", flat=True))
    assert keys == [f"dosing:reading:{second.pk}"]
    assert StaffAlert.objects.get(dedupe_key=f"dosing:reading:{first.pk}").acknowledged_by == nurse
    with time_machine.travel(DAY_START + dt.timedelta(minutes=8), tick=False), committed():
        services.vitals_record(session=session, user=nurse, kind="pre_dose", values=NORMAL)
    assert not _open(session_id=session.pk, kind="dosing_blocked").exists()


def test_no_dosing_alert_when_the_pre_dose_checks_pass(blocked):
    blocked(systolic=128)
    assert not StaffAlert.objects.filter(kind="dosing_blocked").exists()


def test_correcting_the_blocking_pre_dose_reading_closes_the_dosing_alert(nurse, session, blocked, committed):
    reading = blocked()
    with time_machine.travel(DAY_START + dt.timedelta(minutes=2), tick=False), committed():
        services.vitals_correct(reading=reading, user=nurse, values=NORMAL, reason="Typed 168 instead of 128")
    assert not _open(session_id=session.pk, kind="dosing_blocked").exists()
    assert VitalsReading.objects.filter(session=session).count() == 2
