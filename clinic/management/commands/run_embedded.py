"""Serve the app on the embedded default: web server, Celery worker and Celery beat in one
command (SQLite + file-system broker, no servers needed). Ctrl-C stops all three."""

import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from clinic.demo import DEMO_PASSWORD, DEMO_USERS


class Command(BaseCommand):
    help = "Run web + Celery worker + beat together (embedded default)."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")

    def handle(self, *args, addr, **options):
        (settings.VAR_DIR / "celery" / "queue").mkdir(parents=True, exist_ok=True)
        (settings.VAR_DIR / "celery" / "processed").mkdir(parents=True, exist_ok=True)
        py = sys.executable
        commands = {
            "web": [py, "manage.py", "runserver", addr, "--noreload"],
            "worker": [py, "-m", "celery", "-A", "clinic", "worker", "-l", "warning", "--concurrency", "2"],
            "beat": [
                py,
                "-m",
                "celery",
                "-A",
                "clinic",
                "beat",
                "-l",
                "warning",
                "-s",
                settings.CELERY_BEAT_SCHEDULE_FILENAME,
            ],
        }
        procs = {name: subprocess.Popen(cmd, start_new_session=True) for name, cmd in commands.items()}
        self.stdout.write(self.style.SUCCESS(f"\nClinic app: http://{addr}/  (worker and beat running)"))
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, _first, _last, role in DEMO_USERS:
            self.stdout.write(f"  {username:<11} {role}")
        self.stdout.write("Press Ctrl-C to stop.\n")
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                for name, proc in procs.items():
                    if proc.poll() is not None:
                        self.stderr.write(f"{name} exited with code {proc.returncode}; stopping the others.")
                        stopping = True
                time.sleep(0.5)
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            for proc in procs.values():
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()
            self.stdout.write("Stopped web, worker and beat.")
