import datetime as dt

import pytest
import time_machine

from clinic.models import StaffAlert
from monitoring import services
from monitoring.tasks import alerts_scan
from tests.monitoring.conftest import DAY_START, NORMAL

pytestmark = pytest.mark.django_db

DOSED = DAY_START + dt.timedelta(minutes=10)


def test_an_overdue_checkpoint_alerts_once(session, run_to_observation):
    run_to_observation(session, dosed_at=DOSED)
    with time_machine.travel(DOSED + dt.timedelta(minutes=49), tick=False):
        alerts_scan()
    assert not StaffAlert.objects.filter(kind="checkpoint_overdue").exists()
    with time_machine.travel(DOSED + dt.timedelta(minutes=50), tick=False):
        alerts_scan()
        alerts_scan()
    alert = StaffAlert.objects.get(kind="checkpoint_overdue")
    assert "40-minute check overdue (due 09:50)" in alert.message
    assert alert.session_id == session.pk and alert.audience == "nurse"


def test_a_taken_checkpoint_does_not_alert(nurse, session, run_to_observation):
    run_to_observation(session, dosed_at=DOSED)
    with time_machine.travel(DOSED + dt.timedelta(minutes=42), tick=False):
        services.vitals_record(session=session, user=nurse, kind="checkpoint", checkpoint_minute=40, values=NORMAL)
    with time_machine.travel(DOSED + dt.timedelta(minutes=60), tick=False):
        alerts_scan()
    assert not StaffAlert.objects.filter(kind="checkpoint_overdue").exists()


def test_an_observation_past_its_planned_end_alerts(session, run_to_observation):
    run_to_observation(session, dosed_at=DOSED)
    with time_machine.travel(session.planned_end + dt.timedelta(minutes=1), tick=False):
        alerts_scan()
    assert StaffAlert.objects.filter(kind="observation_past_end", session_id=session.pk).count() == 1


def test_an_unsubmitted_rems_record_alerts_administrators_on_day_five(nurse, session, run_to_observation):
    run_to_observation(session, dosed_at=DOSED)
    with time_machine.travel(DOSED + dt.timedelta(minutes=115), tick=False):
        services.vitals_record(session=session, user=nurse, kind="discharge", values=NORMAL)
    with time_machine.travel(DOSED + dt.timedelta(minutes=125), tick=False):
        services.observation_discharge(
            session=session, user=nurse, alert=True, oriented=True, steady=True, picked_up_by="Jordan Example"
        )
    with time_machine.travel(DAY_START + dt.timedelta(days=4), tick=False):
        alerts_scan()
    assert not StaffAlert.objects.filter(kind="rems_due").exists()
    with time_machine.travel(DAY_START + dt.timedelta(days=5), tick=False):
        alerts_scan()
        alerts_scan()
    alert = StaffAlert.objects.get(kind="rems_due")
    assert alert.audience == "administrator" and "due in 2 days" in alert.message
