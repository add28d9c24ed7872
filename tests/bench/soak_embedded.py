"""Soak of the embedded default: 10,000 due reminders drained through the embedded broker
(SQLite broker file, SQLite app database, a real Celery worker as ``make run`` starts it).

    make soak                                  # 10,000 reminders, one send task each
    make soak ARGS="--count 2000 --group 20"   # groups of 20 as the app's default
    python tests/bench/soak_embedded.py --broker redis://127.0.0.1:6379/13   # another broker, to compare

Everything lives in a temporary folder (app database, broker file); nothing of ``make run``'s
data is touched. Prints the rate, the worker's crashes and restarts, and any error the worker
logged; exits 1 if a reminder was not sent, the worker crashed or it logged a traceback.
"""

import argparse
import os
import subprocess  # noqa: S404 - starts migrate and the Celery worker
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.bench_reminders import load_reminders  # noqa: E402


def log(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--group", type=int, default=1, help="reminders per send task (REMINDER_SEND_GROUP)")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--broker", default="", help="broker URL (default: the embedded SQLite broker)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds to wait for every reminder")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="clinic-soak-"))
    broker = args.broker or f"sqla+sqlite:///{folder / 'broker.sqlite3'}"
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")},
        "DJANGO_SETTINGS_MODULE": "clinic.settings",
        "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
        "CELERY_BROKER_URL": broker,
        "EMAIL_BACKEND": "clinic.messaging.OutboxEmailBackend",
        "SMS_BACKEND": "clinic.messaging.OutboxSmsBackend",
        "REMINDER_SEND_GROUP": str(args.group),
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    os.environ.update(env)
    log(f"folder {folder}; broker {broker}; migrating")
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)

    import django

    django.setup()
    from clinic.broker import broker_prepare
    from scheduling import tasks
    from scheduling.models import Reminder

    broker_prepare(broker)
    load_reminders(args.count)
    log(f"{args.count} due reminders loaded; starting the worker (concurrency {args.concurrency})")

    worker_log = folder / "worker.log"
    command = [sys.executable, "-m", "celery", "-A", "clinic", "worker", "-l", "warning"]
    command += ["--concurrency", str(args.concurrency), "--without-gossip", "--without-mingle"]

    def start():
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=worker_log.open("a"), stderr=subprocess.STDOUT, start_new_session=True
        )

    worker = start()
    crashes = 0
    started = time.perf_counter()
    sent = 0
    try:
        tasks.reminders_tick.delay()  # through the broker, as beat sends it
        deadline = time.monotonic() + args.timeout
        last_tick = time.monotonic()
        while time.monotonic() < deadline:
            sent = Reminder.objects.filter(status="sent").count()
            if sent >= args.count:
                break
            if worker.poll() is not None:
                crashes += 1
                log(f"worker exited with code {worker.returncode}; restarting it")
                worker = start()
            if time.monotonic() - last_tick > 60:  # as beat would: the next tick recovers stale claims
                tasks.reminders_tick.delay()
                last_tick = time.monotonic()
            time.sleep(0.5)
        elapsed = time.perf_counter() - started
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
    text = worker_log.read_text(errors="replace")
    errors = [line for line in text.splitlines() if "Traceback" in line or "Error" in line]
    print(f"broker: {broker.split(':')[0]}, worker concurrency {args.concurrency}, {args.group} per send task")
    print(f"reminders sent: {sent} of {args.count} in {elapsed:.1f} s ({sent / elapsed:.0f} messages/second)")
    print(f"worker crashes: {crashes}")
    print(f"errors in the worker's log: {len(errors)}")
    for line in errors[:10]:
        print(f"  {line}")
    print(f"(worker log: {worker_log})")
    return 0 if sent >= args.count and not crashes and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
