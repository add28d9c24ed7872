"""Shared limits: with CACHE_URL set, the patient link's rate limit holds across several
gunicorn workers exactly (the configured number allowed, the next one refused)."""

import datetime as dt
import os

import pytest
from django.utils import timezone

from scheduling.links import confirm_token
from scheduling.models import Session
from tests import factories
from tests.gunicorn_server import get, gunicorn

LIMIT = 20


def _redis_url() -> str:
    broker = os.environ.get("CELERY_BROKER_URL", "")
    return broker if broker.startswith("redis://") else "redis://127.0.0.1:6379/11"


@pytest.fixture
def server():
    """gunicorn with 3 workers on the test database and a Redis cache."""
    import redis

    cache_url = _redis_url()
    redis.Redis.from_url(cache_url).flushdb()
    try:
        with gunicorn(workers=3, env={"CACHE_URL": cache_url, "CONFIRM_RATE_LIMIT": str(LIMIT)}) as base:
            yield base
    finally:
        redis.Redis.from_url(cache_url).flushdb()


@pytest.mark.django_db(transaction=True)
def test_the_patient_link_limit_holds_exactly_across_three_workers(server):
    site = factories.make_site("Shared")
    patient = factories.make_patient(site=site)
    start = timezone.now().replace(microsecond=0) + dt.timedelta(days=3)
    session = Session.objects.create(
        patient=patient,
        chair=site.chairs.first(),
        start=start,
        planned_end=start + dt.timedelta(hours=2),
        planned_dose_mg=56,
    )
    url = f"{server}/c/{confirm_token(session.pk)}/"
    codes = [get(url)[0] for _ in range(LIMIT + 5)]
    assert codes.count(200) == LIMIT, codes
    assert codes[LIMIT:] == [429] * 5
