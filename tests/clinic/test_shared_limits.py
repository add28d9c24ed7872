"""Shared limits: with CACHE_URL set, the patient link's rate limit holds across several
gunicorn workers exactly (the configured number allowed, the next one refused)."""

import datetime as dt
import os
import socket
import subprocess  # noqa: S404 - starts gunicorn
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from scheduling.links import confirm_token
from scheduling.models import Session
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis_url() -> str:
    broker = os.environ.get("CELERY_BROKER_URL", "")
    return broker if broker.startswith("redis://") else "redis://127.0.0.1:6379/11"


def _database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - our own test server
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture
def server():
    """gunicorn with 3 workers on the test database and a Redis cache."""
    import redis

    cache_url = _redis_url()
    redis.Redis.from_url(cache_url).flushdb()
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CACHE_URL": cache_url,
        "CONFIRM_RATE_LIMIT": str(LIMIT),
        "DEBUG": "True",
        "AUDIT_CHAIN_KEY": django_settings.AUDIT_CHAIN_KEY,
    }
    cmd = [sys.executable, "-m", "gunicorn", "clinic.wsgi:application", "--workers", "3"]
    process = subprocess.Popen(  # noqa: S603
        [*cmd, "--bind", f"127.0.0.1:{port}", "--log-level", "warning"], cwd=ROOT, env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                _get(f"{base}/accounts/login/")
                break
            except OSError:
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)
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
    codes = [_get(url) for _ in range(LIMIT + 5)]
    assert codes.count(200) == LIMIT, codes
    assert codes[LIMIT:] == [429] * 5
