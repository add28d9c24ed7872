"""The production shape, for real: gunicorn (deploy/gunicorn.conf.py, DEBUG off, static files
collected into a temporary folder), a Celery worker and Celery beat against PostgreSQL and
Redis, as the docker-compose services run them. Staff sign in over HTTP, the booked session is
on the schedule, the nurse checks the patient in and records a reading, the worker and beat
report their heartbeats through the broker, a due reminder reaches the outbox through the
worker, and /healthz is green; then the processes stop."""

import datetime as dt
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import zoneinfo
from pathlib import Path

import pytest
import redis
import requests
from django.conf import global_settings, settings
from django.utils import timezone
from kombu import Connection

from clinic.celery import app
from clinic.models import OpeningHours, OutboxMessage
from monitoring.models import VitalsReading
from scheduling.models import Reminder
from tests import factories

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PASSWORD = "smoke-Test-passphrase-2026"
# A Redis database of its own, emptied first: messages other tests left on the suite's broker
# would otherwise queue before this worker's own.
SMOKE_REDIS_DB = int(os.environ.get("SMOKE_REDIS_DB", "14"))


def smoke_broker_url() -> str:
    url = settings.CELERY_BROKER_URL
    if not url.startswith("redis://"):
        pytest.skip("needs CELERY_BROKER_URL on Redis")
    return url.rsplit("/", 1)[0] + f"/{SMOKE_REDIS_DB}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def midday_zone() -> str:
    """A fixed-offset zone where it is now about noon: the session is today, in opening hours."""
    offset = (12 - timezone.now().hour + 12) % 24 - 12  # local = UTC + offset
    return f"Etc/GMT{'-' if offset >= 0 else '+'}{abs(offset)}"


class Browser:
    """Requests over plain HTTP as if through the TLS proxy (X-Forwarded-Proto: https), keeping
    the secure cookies by hand."""

    def __init__(self, base: str):
        self.base, self.cookies = base, {}
        self.headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}

    def _keep(self, response):
        self.cookies.update(response.cookies.get_dict())
        return response

    def get(self, path: str):
        return self._keep(requests.get(self.base + path, headers=self.headers, cookies=self.cookies, timeout=30))

    def post(self, path: str, data: dict, *, form_page: str):
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', self.get(form_page).text).group(1)
        headers = {**self.headers, "Referer": f"https://{self.base.removeprefix('http://')}{form_page}"}
        response = requests.post(
            self.base + path,
            data={**data, "csrfmiddlewaretoken": token},
            headers=headers,
            cookies=self.cookies,
            allow_redirects=False,
            timeout=30,
        )
        return self._keep(response)

    def sign_in(self, username: str):
        response = self.post(
            "/accounts/login/", {"username": username, "password": PASSWORD}, form_page="/accounts/login/"
        )
        assert response.status_code == 302, response.text[-2000:]


@pytest.fixture
def world(transactional_db, settings):
    # The servers check passwords with the production hashers, not the tests' fast one.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    zone = midday_zone()
    site = factories.make_site(time_zone=zone, chairs=2)
    OpeningHours.objects.filter(site=site).delete()
    for weekday in range(7):
        OpeningHours.objects.create(site=site, weekday=weekday, opens=dt.time(0), closes=dt.time(23, 59))
    patient = factories.make_patient(site=site, phone="+12125550142")
    scheduler = factories.make_user("smoke-scheduler", "Scheduler")
    nurse = factories.make_user("smoke-nurse", "Nurse")
    for user in (scheduler, nurse):
        user.set_password(PASSWORD)
        user.save()
    start = (timezone.now() + dt.timedelta(minutes=30)).replace(second=0, microsecond=0)
    local_day = start.astimezone(zoneinfo.ZoneInfo(zone)).date()
    course = factories.make_course(patient, scheduler, slug="esketamine-mdsi", start_date=local_day)
    session = factories.book(course, site.chairs.first(), start)
    return {"site": site, "patient": patient, "session": session}


@pytest.fixture
def production(world, tmp_path):
    broker = smoke_broker_url()
    redis.Redis.from_url(broker).flushdb()
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_"))},
        "DJANGO_SETTINGS_MODULE": "clinic.settings",
        "DEBUG": "False",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "AUDIT_CHAIN_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "CELERY_BROKER_URL": broker,
        "ALLOWED_HOSTS": "127.0.0.1",
        "BEHIND_TLS_PROXY": "True",
        "TRUSTED_PROXY_COUNT": "1",
        "SECURE_SSL_REDIRECT": "False",
        "STATIC_ROOT": str(tmp_path / "static"),
        "EXPORT_DIR": str(tmp_path / "exports"),
        "HEALTH_HEARTBEAT_SECONDS": "5",
        "WEB_CONCURRENCY": "2",
        "LOG_LEVEL": "WARNING",
    }
    collect = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, capture_output=True
    )
    assert collect.returncode == 0, collect.stderr.decode()[-2000:]
    port = free_port()
    env["GUNICORN_BIND"] = f"127.0.0.1:{port}"
    logs = {name: (tmp_path / f"{name}.log").open("w") for name in ("web", "worker", "beat")}
    commands = {
        "web": [str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "clinic.wsgi:application"],
        "worker": [str(BIN / "celery"), "-A", "clinic", "worker", "-l", "warning", "--concurrency", "2"],
        "beat": [str(BIN / "celery"), "-A", "clinic", "beat", "-l", "warning", "-s", str(tmp_path / "beat")],
    }
    procs = {
        name: subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=logs[name], stderr=subprocess.STDOUT, start_new_session=True
        )
        for name, cmd in commands.items()
    }
    try:
        yield {"base": f"http://127.0.0.1:{port}", "procs": procs, "logs": tmp_path, "broker": broker}
    finally:
        for proc in procs.values():
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def healthz(base: str) -> dict:
    try:
        return json.loads(requests.get(f"{base}/healthz", timeout=5).text)
    except (requests.RequestException, ValueError):
        return {}


def test_gunicorn_worker_and_beat_serve_the_clinic_day(production, world):
    base, session = production["base"], world["session"]
    logs = lambda: "\n".join(p.read_text() for p in production["logs"].glob("*.log"))  # noqa: E731
    report = wait_for(lambda: healthz(base).get("status") == "ok" and healthz(base), 60, f"a green /healthz\n{logs()}")
    assert (report["database"], report["broker"], report["worker"], report["beat"]) == ("ok",) * 4

    # Static files: collected, hashed and served with DEBUG off.
    login = requests.get(f"{base}/accounts/login/", headers={"X-Forwarded-Proto": "https"}, timeout=30)
    css = re.search(r'href="(/static/[^"]+\.css)"', login.text).group(1)
    assert requests.get(base + css, timeout=30).status_code == 200

    scheduler = Browser(base)
    scheduler.sign_in("smoke-scheduler")
    day = scheduler.get(f"/schedule/?site={world['site'].pk}")
    assert day.status_code == 200 and world["patient"].last_name in day.text

    # The session's 24-hour reminder falls due while the session is still booked:
    # the worker sends it into the outbox.
    Reminder.objects.filter(session=session).exclude(kind="24h").update(status="skipped", skip_reason="test")
    Reminder.objects.filter(session=session, kind="24h").update(
        status="pending", skip_reason="", due_at=timezone.now() - dt.timedelta(minutes=1)
    )
    assert Reminder.objects.filter(session=session, status="pending").count() == 1
    with Connection(production["broker"]) as conn:
        app.send_task("scheduling.tasks.reminders_tick", connection=conn)
    wait_for(
        lambda: OutboxMessage.objects.filter(reference__startswith="reminder:").exists(),
        60,
        f"the reminder in the outbox\n{logs()}",
    )
    assert Reminder.objects.get(session=session, kind="24h").status == "sent"

    nurse = Browser(base)
    nurse.sign_in("smoke-nurse")
    session_day = f"/sessions/{session.pk}/day/"
    checklist = {
        "no_food_2h": "on",
        "no_liquids_30min": "on",
        "nasal_medicines_1h": "on",
        "rems_enrolment_checked": "on",
        "concomitant_medicines_reviewed": "on",
        "transport_confirmed": "on",
        "transport_kind": "escort",
        "transport_name": "Chris Quinn",
        "transport_phone": "212 555 0177",
        "transport_relationship": "Spouse",
    }
    checked_in = nurse.post(f"{session_day}check-in/", checklist, form_page=session_day)
    assert checked_in.status_code == 302, checked_in.text[-3000:]
    page = nurse.get(session_day).text
    checkpoint = re.search(r'<select name="checkpoint"[^>]*>\s*<option value="([^"]+)"', page).group(1)
    vitals = {
        "checkpoint": checkpoint,
        "systolic": "128",
        "diastolic": "82",
        "heart_rate": "72",
        "spo2": "98",
        "respiratory_rate": "14",
        "moaas": "5",
        "cadss": "0",
    }
    recorded = nurse.post(f"{session_day}vitals/", vitals, form_page=session_day)
    assert recorded.status_code == 302, recorded.text[-3000:]
    assert VitalsReading.objects.filter(session=session, systolic=128).exists()

    assert requests.get(f"{base}/healthz", timeout=5).status_code == 200
    for name, proc in production["procs"].items():
        assert proc.poll() is None, f"{name} stopped\n{logs()}"
