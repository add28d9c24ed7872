"""The board's facts kept under their site's board generation: an unchanged board reads no
session, reading or override, the clock still moves what depends on it, and every kind of
write the board reads is on the next board. Changes are made with queryset updates (no
signals) where they can be: the PostgreSQL triggers are what moves the generation on."""

import datetime as dt

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse

from clinic.models import Chair, Patient, Site, StaffAlert
from monitoring import services
from monitoring.models import BoardGeneration, Observation
from scheduling.models import Course, Protocol, Session, TransportArrangement
from tests.conftest import statements
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


def test_an_unchanged_board_reads_no_session_and_the_clock_still_counts(client_for, nurse, observed):
    client = client_for(nurse)
    with time_machine.travel(AT, tick=False):
        client.get(BOARD)  # the session's first request stores its activity time
        cache.clear()
        with statements() as computed:
            first = client.get(BOARD).content.decode()
        with statements() as cached:
            client.get(BOARD)
    with time_machine.travel(AT + dt.timedelta(minutes=3), tick=False):
        later = client.get(BOARD).content.decode()
    assert "52 min" in first
    assert "55 min" in later
    # One query for the generation instead of five: sessions, their day's records, readings,
    # overrides and the open alerts.
    assert len(cached) == len(computed) - 5
    assert any("monitoring_vitalsreading" in sql for sql in computed)
    assert not any("monitoring_vitalsreading" in sql for sql in cached)


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
    generation_before = BoardGeneration.of(site)
    with time_machine.travel(AT - dt.timedelta(minutes=1), tick=False):
        change(observed, nurse)
    assert BoardGeneration.of(site) > generation_before
    assert after in _board(client)


def test_alerts_raised_acknowledged_and_removed_are_on_the_next_board(client_for, nurse, site, observed):
    client = client_for(nurse)
    assert "Oxygen low in chair 2" not in _board(client)
    other = Site.objects.create(name="Westside", time_zone="America/New_York")  # after the board's site
    generation = BoardGeneration.of(site)
    StaffAlert.objects.create(kind="test", audience="nurse", site=other, message="Not here", dedupe_key="b0")
    assert BoardGeneration.of(site) == generation  # another site's alert keeps this board
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
