"""The board's rows kept for ``PAGE_CACHE_SECONDS`` (clinic.page_cache): a change made through
the app is on the very next board; a change made around it (a plain queryset update, as psql
or a script would make it) shows once the seconds have run out, and the board prints the time
its rows were read. The alerts are read at every request."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from clinic.models import AuditAction, Patient, StaffAlert
from clinic.page_cache import last_change
from monitoring import services
from scheduling import services as scheduling_services
from scheduling.models import TransportArrangement
from tests.clinic.test_translation import speaking_spanish
from tests.monitoring.conftest import DAY_START, NORMAL, vitals_post

# Real commits: a change ends the kept rows once its transaction has committed.
pytestmark = pytest.mark.django_db(transaction=True)

BOARD = reverse("monitoring:board")
BOARD_TABLE = reverse("monitoring:board-table")
AT = DAY_START + dt.timedelta(minutes=62)  # dosed at 09:10: 52 minutes in


@pytest.fixture(autouse=True)
def _kept_three_seconds(settings):
    settings.PAGE_CACHE_SECONDS = 3


@pytest.fixture
def observed(session, run_to_observation):
    return run_to_observation(session)


def _board(client, at=AT, url=BOARD) -> str:
    with time_machine.travel(at, tick=False):
        response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_a_change_around_the_app_shows_once_the_seconds_have_run_out(client_for, nurse, observed):
    client = client_for(nurse)
    first = _board(client)
    assert "Example" in first and "Updated 10:02:00." in first
    Patient.objects.filter(pk=observed.patient_id).update(last_name="Okafor-Lind")

    kept = _board(client, AT + dt.timedelta(seconds=2), url=BOARD_TABLE)
    assert "Okafor-Lind" not in kept
    assert "Updated 10:02:00." in kept  # the time the rows were read, not the time of the request

    later = _board(client, AT + dt.timedelta(seconds=4))
    assert "Okafor-Lind" in later
    assert "Updated 10:02:04." in later


def _reading_on_the_nurses_page(client, session, nurse):
    with time_machine.travel(AT, tick=False):
        response = client.post(
            reverse("monitoring:vitals-record", args=[session.pk]),
            vitals_post(checkpoint="m40", taken_at="10:01", systolic=151),
        )
    assert response.status_code == 302


def _ride_unconfirmed(client, session, nurse):
    arrangement = TransportArrangement.objects.get(session=session)
    with time_machine.travel(AT, tick=False):
        scheduling_services.transport_record(
            session=session, kind=arrangement.kind, name="Sam Rivera", phone="", confirmed=False, user=None
        )


def _reading_corrected(client, session, nurse):
    reading = session.readings.get(kind="pre_dose")
    with time_machine.travel(AT, tick=False):
        services.vitals_correct(reading=reading, user=nurse, values={**NORMAL, "heart_rate": 131}, reason="Misread")


APP_CHANGES = {
    # name: (change, shown before, shown after)
    "reading on the nurse's page": (_reading_on_the_nurses_page, "128/82", "151/82"),
    "ride set unconfirmed": (_ride_unconfirmed, "In observation", "Ride home not confirmed"),
    "reading corrected": (_reading_corrected, "HR 72 · SpO2", "HR 131 · SpO2"),
}


@pytest.mark.parametrize("name", APP_CHANGES)
def test_a_change_made_through_the_app_is_on_the_very_next_board(client_for, nurse, observed, name):
    change, before, after = APP_CHANGES[name]
    client = client_for(nurse)
    page = _board(client)
    assert before in page and after not in page
    change(client, observed, nurse)
    assert after in _board(client, url=BOARD_TABLE)  # the same instant: no copy is used


def test_only_a_committed_change_moves_the_change_number_on(nurse, observed):
    """Page views, exports and sign-ins change nothing a page shows: they keep the copies;
    a change's audit row gives them up once its transaction commits, not if it rolls back."""
    from django.db import transaction

    from clinic.audit import audit_record

    number = last_change()
    with transaction.atomic():
        audit_record(action=AuditAction.VIEW, obj=observed, summary={})
        audit_record(action=AuditAction.EXPORT, obj=observed, summary={})
        audit_record(action=AuditAction.LOGIN, user=nurse)
    assert last_change() == number

    with transaction.atomic():
        audit_record(action=AuditAction.UPDATE, obj=observed, summary={})
        assert last_change() == number  # not before the commit
    assert last_change() == number + 1

    class RolledBack(Exception):
        pass

    with pytest.raises(RolledBack), transaction.atomic():
        audit_record(action=AuditAction.DELETE, obj=observed, summary={})
        raise RolledBack
    assert last_change() == number + 1


def test_a_new_change_number_is_started_when_the_cache_has_lost_it(observed):
    from django.core.cache import cache

    number = last_change()
    cache.clear()
    assert last_change() > number


def test_the_alerts_are_read_at_every_request(client_for, nurse, site, observed):
    client = client_for(nurse)
    assert "Oxygen low in chair 2" not in _board(client)
    StaffAlert.objects.create(
        kind="test", audience="nurse", site=site, message="Oxygen low in chair 2", dedupe_key="k1"
    )
    assert "Oxygen low in chair 2" in _board(client)
    StaffAlert.objects.filter(dedupe_key="k1").update(acknowledged_at=AT)
    assert "Oxygen low in chair 2" not in _board(client)


def test_each_language_has_its_own_copy(client_for, nurse, observed, settings, tmp_path):
    client = client_for(nurse)
    assert "In observation" in _board(client)
    with speaking_spanish(settings, tmp_path, {"In observation": "En observación"}):
        assert "En observación" in _board(client)


def test_no_copy_is_kept_with_zero_seconds(client_for, nurse, observed, settings):
    settings.PAGE_CACHE_SECONDS = 0
    client = client_for(nurse)
    assert "Example" in _board(client)
    Patient.objects.filter(pk=observed.patient_id).update(last_name="Okafor-Lind")
    assert "Okafor-Lind" in _board(client)


def test_the_rows_are_kept_in_a_shared_redis_cache(client_for, nurse, observed, redis_cache):
    """What a web process keeps, every process reads with CACHE_URL: the copy goes through
    Redis (pickled) and comes back as the same rows with the same time."""
    from django.core.cache import cache

    client = client_for(nurse)
    first = _board(client)
    assert any(key for key in cache._cache.get_client().scan_iter(f"{cache.key_prefix}*board*"))
    Patient.objects.filter(pk=observed.patient_id).update(last_name="Okafor-Lind")
    kept = _board(client, AT + dt.timedelta(seconds=2))
    assert "Okafor-Lind" not in kept and "Updated 10:02:00." in kept
    assert kept.count('<tr class="status-') == first.count('<tr class="status-') == 1


def test_the_board_is_computed_when_the_cache_cannot_be_reached(client_for, nurse, observed, settings):
    """A Redis cache that is down costs the board its copies, never the page; a change
    committed meanwhile stays committed."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    client = client_for(nurse)
    assert "Pat Example" in _board(client)
    Patient.objects.filter(pk=observed.patient_id).update(last_name="Okafor-Lind")
    assert "Okafor-Lind" in _board(client)  # nothing was kept
    _reading_on_the_nurses_page(client, observed, nurse)
    assert "151/82" in _board(client)
