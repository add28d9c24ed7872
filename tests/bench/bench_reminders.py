"""Reminder throughput: 10,000 due reminders drained by one real Celery worker with the outbox
backend, on PostgreSQL + Redis, compared with a no-op task round trip on the same broker.

    make bench-reminders                       # 10,000 reminders, worker concurrency 2
    make bench-reminders ARGS="--count 2000 --concurrency 1"
    make bench-reminders ARGS="--group 1"      # one send task per reminder instead of groups

Uses its own database (clinic_bench_reminders, dropped and created here) and its own Redis
database (BENCH_REMINDERS_REDIS_URL, default redis://127.0.0.1:6379/12, flushed), so it never
touches development data. PostgreSQL server: BENCH_POSTGRES_URL (default
postgres://postgres@127.0.0.1:5432).
"""

import argparse
import datetime as dt
import os
import signal
import subprocess  # noqa: S404 - starts migrate and the Celery worker
import sys
import time
from pathlib import Path

from celery import shared_task

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DONE_KEY = "bench-reminders:noop-done"


@shared_task(name="bench.noop", ignore_result=True)
def noop() -> None:
    """The baseline: a task that does nothing."""


@shared_task(name="bench.noop_done", ignore_result=True)
def noop_done(url: str) -> None:
    import redis

    redis.Redis.from_url(url).set(DONE_KEY, time.time())


def log(message: str) -> None:
    print(f"[bench-reminders {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def environment(args) -> dict:
    server = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
    return {
        "DJANGO_SETTINGS_MODULE": "clinic.settings",
        # Production-like worker: DEBUG off (with DEBUG on every query is also recorded in
        # connection.queries). The key only signs confirmation links in this throwaway database.
        "DEBUG": "false",
        "SECRET_KEY": "bench-reminders-not-a-secret",
        "DATABASE_URL": f"{server}/{args.db}",
        # Django's setting for keeping connections. Note that Celery's Django fixup still closes
        # the connection before and after every task unless CELERY_DB_REUSE_MAX is set.
        "DB_CONN_MAX_AGE": "60",
        "CELERY_BROKER_URL": os.environ.get("BENCH_REMINDERS_REDIS_URL", "redis://127.0.0.1:6379/12"),
        "EMAIL_BACKEND": "clinic.messaging.OutboxEmailBackend",
        "SMS_BACKEND": "clinic.messaging.OutboxSmsBackend",
        "REMINDER_BATCH_SIZE": "1000",
        "REMINDER_SEND_GROUP": str(args.group),
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }


def recreate_database(args, env: dict) -> None:
    import psycopg

    server = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{args.db}"')
    log(f"database {args.db} created; migrating")
    subprocess.run([str(BIN / "python"), "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)


def drop_database(args) -> None:
    import psycopg

    server = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')


def start_worker(args, env: dict) -> subprocess.Popen:
    command = [str(BIN / "celery"), "-A", "clinic", "worker", "-n", "bench@%h", f"--concurrency={args.concurrency}"]
    command += ["-I", "tests.bench.bench_reminders", "--loglevel=WARNING", "--without-gossip", "--without-mingle"]
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def load_reminders(count: int) -> None:
    from django.utils import timezone

    from clinic.models import Chair, Patient, Site
    from scheduling.models import Reminder, Session

    site = Site.objects.create(name="Bench site")
    chair = Chair.objects.create(site=site, name="Chair 1")
    patient = Patient.objects.create(
        mrn="BENCH0001",
        first_name="Bench",
        last_name="Patient",
        date_of_birth=dt.date(1980, 1, 1),
        sex="X",
        phone="+12125550142",
        site=site,
    )
    first = timezone.now() + dt.timedelta(days=30)
    sessions = Session.objects.bulk_create(
        (
            Session(
                patient=patient,
                chair=chair,
                start=first + dt.timedelta(hours=3 * i),
                planned_end=first + dt.timedelta(hours=3 * i + 2),
                planned_dose_mg=56,
            )
            for i in range(count)
        ),
        batch_size=2000,
    )
    due = timezone.now() - dt.timedelta(minutes=1)
    Reminder.objects.bulk_create(
        (Reminder(session=s, kind="24h", channel="sms", due_at=due) for s in sessions), batch_size=2000
    )


def measure_noop(args, broker_url: str) -> float:
    """Tasks per second for ``count`` no-op tasks published and drained by the worker."""
    import redis

    from clinic.celery import app

    client = redis.Redis.from_url(broker_url)
    client.delete(DONE_KEY)
    started = time.perf_counter()
    with app.producer_or_acquire() as producer:
        for _ in range(args.count):
            noop.apply_async(producer=producer)
        noop_done.apply_async(args=[broker_url], producer=producer)
    wait_until(lambda: client.exists(DONE_KEY), 600, "the no-op tasks")
    return args.count / (time.perf_counter() - started)


def measure_reminders(args) -> float:
    """Reminders per second: from the tick until every reminder is in the outbox."""
    from clinic.models import OutboxMessage
    from scheduling import tasks
    from scheduling.models import Reminder

    started = time.perf_counter()
    tasks.reminders_tick.delay()
    wait_until(lambda: Reminder.objects.filter(status="sent").count() >= args.count, 900, "the reminders")
    elapsed = time.perf_counter() - started
    sent = OutboxMessage.objects.count()
    if sent != args.count:
        raise SystemExit(f"expected {args.count} outbox messages, found {sent}")
    return args.count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--group", type=int, default=20, help="reminders per send task (REMINDER_SEND_GROUP)")
    parser.add_argument("--db", default="clinic_bench_reminders")
    parser.add_argument("--keep-db", action="store_true", help="leave the benchmark database in place")
    args = parser.parse_args()

    env = environment(args)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django
    import redis

    recreate_database(args, env)
    redis.Redis.from_url(env["CELERY_BROKER_URL"]).flushdb()
    django.setup()
    load_reminders(args.count)
    log(f"{args.count} due reminders loaded; starting one worker (concurrency {args.concurrency})")

    worker = start_worker(args, env)
    try:
        time.sleep(3)  # let the worker connect before timing
        noop_rate = measure_noop(args, env["CELERY_BROKER_URL"])
        log(f"no-op round trip: {noop_rate:.0f} tasks/s")
        reminder_rate = measure_reminders(args)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(30)
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            drop_database(args)
        redis.Redis.from_url(env["CELERY_BROKER_URL"]).flushdb()
    print(
        f"reminders: {args.count} sent in one worker (concurrency {args.concurrency}), outbox backend, "
        f"{args.group} per send task"
    )
    print(f"reminder messages/second: {reminder_rate:.0f}")
    print(f"no-op task round trips/second: {noop_rate:.0f}")
    print(f"ratio reminders / no-op: {reminder_rate / noop_rate:.2f} (target >= 0.50)")


if __name__ == "__main__":
    main()
