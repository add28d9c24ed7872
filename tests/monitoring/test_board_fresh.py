"""The board is computed from what is stored now: every kind of write the board reads is on
the next board computed, and the clock moves what depends on it. Changes are made with
queryset updates (no signals, no service, no audit row) where they can be, as a script or
another process would make them. The rows kept for ``PAGE_CACHE_SECONDS`` have their own
tests (test_board_kept.py)."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from clinic.models import Chair, Patient, Site, StaffAlert
from monitoring import services
from monitoring.models import Observation
from scheduling.models import Course, Protocol, Session, TransportArrangement
from tests.monitoring.conftest import DAY_START, NORMAL

pytestmark = pytest.mark.django_db

BOARD = reverse("monitoring:board")
AT = DAY_START + dt.timedelta(minutes=62)  # dosed at 09:10: 52 minutes in, the 40-minute check overdue


@pytest.fixture
def observed(session, run_to_observation):
    return run_to_observation(session)


def _board(client) -> str:
    with time_machine.travel(AT, tick=False):
        return client.get(BOARD).content.decode()


def test_the_clock_moves_the_minutes_since_the_dose(client_for, nurse, observed):
    client = client_for(nurse)
    with time_machine.travel(AT, tick=False):
        first = client.get(BOARD).content.decode()
    with time_machine.travel(AT + dt.timedelta(minutes=3), tick=False):
        later = client.get(BOARD).content.decode()
    assert "52 min" in first
    assert "55 min" in later


def _protocol_checkpoints(s):
    Protocol.objects.filter(pk=s.course.protocol_id).update(checkpoint_minutes=[30])


def _other_protocol(s):
    other = Protocol.objects.create(name="Other", slug="other-board-cache", drug="esketamine", checkpoint_minutes=[50])
    Course.objects.filter(pk=s.course_id).update(protocol=other)


CHANGES = {
    # name: (change, shown before, shown after)
    "reading": (
        lambda s, nurse: services.vitals_record(
            session=s, user=nurse, kind="checkpoint", checkpoint_minute=40, values={**NORMAL, "systolic": 151}
        ),
        "128/82",
        "151/82",
    ),
    "ride": (
        lambda s, nurse: TransportArrangement.objects.filter(session=s).update(status="unconfirmed"),
        "In observation",
        "Ride home not confirmed",
    ),
    "observation": (
        lambda s, nurse: Observation.objects.filter(session=s).update(started_at=DAY_START),
        "52 min",
        "62 min",
    ),
    "session status": (
        lambda s, nurse: Session.objects.filter(pk=s.pk).update(status="no_show"),
        "In observation",
        "No-show",
    ),
    "patient renamed": (
        lambda s, nurse: Patient.objects.filter(pk=s.patient_id).update(last_name="Okafor-Lind"),
        "In observation",
        "Okafor-Lind",
    ),
    "chair renamed": (
        lambda s, nurse: Chair.objects.filter(pk=s.chair_id).update(name="Window chair"),
        "In observation",
        "Window chair",
    ),
    "protocol checkpoints": (lambda s, nurse: _protocol_checkpoints(s), "40-minute check", "30-minute check"),
    "course protocol": (lambda s, nurse: _other_protocol(s), "40-minute check", "50-minute check"),
}


@pytest.mark.parametrize("name", CHANGES)
def test_a_change_is_on_the_next_board(client_for, nurse, site, observed, name):
    change, before, after = CHANGES[name]
    client = client_for(nurse)
    page = _board(client)
    assert before in page
    assert after not in page
    with time_machine.travel(AT - dt.timedelta(minutes=1), tick=False):
        change(observed, nurse)
    assert after in _board(client)


def test_alerts_raised_acknowledged_and_removed_are_on_the_next_board(client_for, nurse, site, observed):
    client = client_for(nurse)
    assert "Oxygen low in chair 2" not in _board(client)
    other = Site.objects.create(name="Westside", time_zone="America/New_York")  # after the board's site
    StaffAlert.objects.create(kind="test", audience="nurse", site=other, message="Not here", dedupe_key="b0")
    StaffAlert.objects.create(
        kind="test", audience="nurse", site=site, message="Oxygen low in chair 2", dedupe_key="b1"
    )
    StaffAlert.objects.create(kind="test", audience="nurse", site=None, message="Fire drill at noon", dedupe_key="b2")
    page = _board(client)
    assert "Oxygen low in chair 2" in page and "Fire drill at noon" in page and "Not here" not in page
    StaffAlert.objects.filter(dedupe_key="b1").update(acknowledged_at=AT)
    page = _board(client)
    assert "Oxygen low in chair 2" not in page and "Fire drill at noon" in page
    StaffAlert.objects.filter(dedupe_key="b2").delete()
    assert "Fire drill at noon" not in _board(client)
