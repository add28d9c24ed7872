"""With CACHE_URL, every web process reads the same change number: a change made in one
process (here the test's own, as a Celery worker or another gunicorn worker would make it)
ends the board's copies in every gunicorn worker at once, long before their seconds run out."""

import datetime as dt
import os

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone

from scheduling import services as scheduling_services
from tests import factories
from tests.gunicorn_server import get, gunicorn

WORKERS = 2


@pytest.fixture
def shared_cache(settings):
    """A Redis database of this test's own (10, on the broker's server), which this process
    writes to exactly as the server's workers read it (CACHE_URL, key prefix "clinic")."""
    import redis

    broker = os.environ.get("CELERY_BROKER_URL", "")
    server = broker.rsplit("/", 1)[0] if broker.startswith("redis://") else "redis://127.0.0.1:6379"
    location = f"{server}/10"
    redis.Redis.from_url(location).flushdb()
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": location,
            "KEY_PREFIX": "clinic",
        }
    }
    yield location
    redis.Redis.from_url(location).flushdb()


@pytest.fixture
def server(shared_cache):
    # Only the change number can end a copy within this test.
    with gunicorn(workers=WORKERS, env={"CACHE_URL": shared_cache, "PAGE_CACHE_SECONDS": "600"}) as base:
        yield base


def _board(base: str, cookie: str, site) -> str:
    status, body = get(f"{base}/board/table/?site={site.pk}", headers={"Cookie": f"sessionid={cookie}"})
    assert status == 200
    return body


@pytest.mark.django_db(transaction=True)
def test_a_change_in_one_process_ends_the_copies_of_every_worker(server, settings):
    site = factories.make_site("Shared board")
    nurse = factories.make_user("shared-nurse", "Nurse")
    scheduler = factories.make_user("shared-scheduler", "Scheduler")
    patient = factories.make_patient(site=site, first_name="Robin", last_name="Hale")
    start = timezone.localtime(timezone.now(), site.tzinfo).replace(second=0, microsecond=0) - dt.timedelta(minutes=1)
    session = factories.make_session(patient, site, start)
    client = Client()
    client.force_login(nurse)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value

    pages = [_board(server, cookie, site) for _ in range(6)]  # both workers keep a copy
    assert all("Robin Hale" in page for page in pages)

    scheduling_services.session_cancel(session=session, reason="Flu", version=session.version, user=scheduler)
    pages = [_board(server, cookie, site) for _ in range(6)]
    assert not any("Robin Hale" in page for page in pages)
