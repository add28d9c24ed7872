"""/healthz and ``manage.py healthcheck``: the database, the broker, the worker's and beat's
heartbeats; JSON 503 when any is down or stale, also when the database is unreachable."""

import datetime as dt

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection
from django.utils import timezone

from clinic.models import Heartbeat
from clinic.tasks import heartbeat

pytestmark = pytest.mark.django_db


@pytest.fixture
def alive():
    now = timezone.now()
    Heartbeat.objects.create(name="worker", at=now - dt.timedelta(seconds=20))
    Heartbeat.objects.create(name="beat", at=now - dt.timedelta(seconds=5))


def test_it_reports_every_part_with_the_heartbeat_ages(client, alive):
    response = client.get("/healthz")
    assert response.status_code == 200
    report = response.json()
    assert report["status"] == "ok"
    assert (report["database"], report["broker"], report["worker"], report["beat"]) == ("ok",) * 4
    assert 19 <= report["worker_age_seconds"] <= 30
    assert 4 <= report["beat_age_seconds"] <= 15


def test_it_answers_503_when_no_worker_was_ever_seen(client):
    Heartbeat.objects.create(name="beat", at=timezone.now())
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["worker"] == "never seen"
    assert response.json()["worker_age_seconds"] is None


def test_it_answers_503_when_a_heartbeat_is_stale(client, alive, settings):
    settings.HEALTH_MAX_AGE_SECONDS = 120
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=110), tick=False):
        report = client.get("/healthz").json()
        assert report["beat"] == "ok" and report["worker"] == "stale"
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=5), tick=False):
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.json()["beat"] == "stale"


def test_it_answers_json_503_when_the_database_is_down(client, alive, monkeypatch):
    """The request's transaction would fail before the view runs: /healthz is outside it."""

    def unreachable(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "ensure_connection", unreachable)
    response = client.get("/healthz")
    monkeypatch.undo()
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    report = response.json()
    assert report["database"] == "down: OperationalError"
    assert report["worker"].startswith("unknown")


def test_it_answers_503_when_the_broker_is_down(client, alive, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"].startswith("down")


def test_the_heartbeat_task_marks_the_worker_alive(client):
    Heartbeat.objects.create(name="beat", at=timezone.now())
    heartbeat()
    heartbeat()  # safe twice
    assert client.get("/healthz").status_code == 200


def test_healthz_is_not_redirected_to_https(client, alive, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/accounts/login/").status_code == 301


def test_the_healthcheck_command_checks_the_parts_asked_for(capsys):
    Heartbeat.objects.create(name="worker", at=timezone.now())
    call_command("healthcheck", "--require", "database", "--require", "worker")
    assert '"worker": "ok"' in capsys.readouterr().out
    with pytest.raises(CommandError, match="beat never seen"):
        call_command("healthcheck", "--require", "beat")
