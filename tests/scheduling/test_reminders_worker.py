"""Reminders through a real Celery worker on the Redis broker and the test database.

1. A session whose reminder is due: one tick through the broker, exactly one message.
2. 200 due reminders; the worker is killed with SIGKILL part-way through; a new worker
   starts, the stale-row recovery runs, and every reminder ends sent exactly once.
"""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlparse

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone
from kombu import Connection

from clinic.celery import app
from clinic.messaging import OutboxSmsBackend
from clinic.models import OutboxMessage
from scheduling import reminders, reminders_plan
from scheduling.models import Reminder, Session
from tests import factories

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
# A Redis database of its own (flushed at the start), on the server the suite uses.
WORKER_REDIS_DB = int(os.environ.get("REMINDER_WORKER_REDIS_DB", "13"))


class SlowOutboxSmsBackend(OutboxSmsBackend):
    """The outbox backend with a gateway-like delay, so the worker can be killed mid-batch."""

    def send(self, *, to, body, reference=""):
        time.sleep(0.03)
        return super().send(to=to, body=body, reference=reference)

    def store_many(self, messages):
        time.sleep(0.03 * len(messages))
        return super().store_many(messages)


def broker_url() -> str:
    url = urlparse(settings.CELERY_BROKER_URL)
    if url.scheme != "redis":
        pytest.skip("needs CELERY_BROKER_URL on Redis")
    return f"redis://{url.netloc}/{WORKER_REDIS_DB}"


def database_url() -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "postgres") + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def broker():
    url = broker_url()
    redis.Redis.from_url(url).flushdb()
    yield url
    redis.Redis.from_url(url).flushdb()


class Worker:
    def __init__(self, broker_url: str, name: str):
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": broker_url,
            "SMS_BACKEND": "tests.scheduling.test_reminders_worker.SlowOutboxSmsBackend",
            "DJANGO_SETTINGS_MODULE": "clinic.settings",
            "PYTHONPATH": str(ROOT),
        }
        celery = str(Path(sys.executable).parent / "celery")
        command = [celery, "-A", "clinic", "worker", "-n", f"{name}@%h", "--concurrency=2", "--loglevel=WARNING"]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        # Its own process group, so SIGKILL reaches the pool processes too (a real crash).
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)

    def kill(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def workers():
    started = []
    yield started
    for worker in started:
        worker.stop()


def send_tick(url: str) -> None:
    with Connection(url) as conn:
        app.send_task("scheduling.tasks.reminders_tick", connection=conn)


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_due_reminder_goes_out_once_through_a_real_worker(broker, workers, patient, site):
    start = timezone.now() + dt.timedelta(hours=23)
    session = Session.objects.create(
        patient=patient,
        chair=site.chairs.first(),
        start=start,
        planned_end=start + dt.timedelta(hours=2),
        planned_dose_mg=56,
    )
    reminders_plan.reminders_sync(session=session)
    Reminder.objects.filter(session=session, kind="24h").update(
        status="pending", skip_reason="", due_at=timezone.now() - dt.timedelta(minutes=1)
    )
    Reminder.objects.filter(session=session).exclude(kind="24h").update(status="skipped", skip_reason="test")
    workers.append(Worker(broker, "one"))
    send_tick(broker)
    send_tick(broker)  # a second tick at once sends nothing more
    wait_for(lambda: OutboxMessage.objects.exists(), 90, "the reminder in the outbox")
    time.sleep(1.0)
    row = Reminder.objects.get(session=session, kind="24h")
    assert row.status == "sent"
    assert list(OutboxMessage.objects.values_list("reference", "to")) == [(f"reminder:{row.pk}", patient.phone)]


def test_killing_the_worker_mid_batch_sends_each_reminder_once(broker, workers, site):
    patient = factories.make_patient(site=site)
    first = timezone.now() + dt.timedelta(days=30)
    sessions = Session.objects.bulk_create(
        Session(
            patient=patient,
            chair=site.chairs.first(),
            start=first + dt.timedelta(hours=3 * i),
            planned_end=first + dt.timedelta(hours=3 * i + 2),
            planned_dose_mg=56,
        )
        for i in range(200)
    )
    due = timezone.now() - dt.timedelta(minutes=1)
    Reminder.objects.bulk_create(Reminder(session=s, kind="24h", channel="sms", due_at=due) for s in sessions)

    crashed = Worker(broker, "crash")
    workers.append(crashed)
    send_tick(broker)
    wait_for(lambda: OutboxMessage.objects.count() >= 40, 90, "the batch to be under way")
    crashed.kill()
    sent_before_crash = OutboxMessage.objects.count()
    assert sent_before_crash < 200, "the worker finished before it could be killed"

    workers.append(Worker(broker, "after"))
    _last.update(count=-1, since=0.0)
    # The new worker drains what was still queued; rows whose task died with the old worker
    # stay 'sending' until the recovery requeues them (here: as if the timeout had passed).
    wait_for(lambda: _quiet(), 90, "the queue to drain")
    stuck = Reminder.objects.filter(status="sending").count()
    assert stuck > 0, "some reminders should have died with the killed worker"
    requeued, failed = reminders.reminders_recover_stale(now=timezone.now() + dt.timedelta(hours=1))
    # The new worker may still finish a late queued task between the count and the recovery.
    assert failed == 0
    assert 0 < requeued <= stuck
    send_tick(broker)
    wait_for(lambda: Reminder.objects.filter(status="sent").count() == 200, 90, "every reminder to be sent")

    references = list(OutboxMessage.objects.values_list("reference", flat=True))
    assert len(references) == len(set(references)) == 200
    assert set(Reminder.objects.values_list("status", flat=True)) == {"sent"}


_last = {"count": -1, "since": 0.0}


def _quiet() -> bool:
    """True once nothing has been sent for two seconds."""
    count = OutboxMessage.objects.count()
    now = time.monotonic()
    if count != _last["count"]:
        _last.update(count=count, since=now)
        return False
    return now - _last["since"] >= 2.0
