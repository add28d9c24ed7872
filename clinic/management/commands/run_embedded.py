"""Serve the app on the embedded default: web server, Celery worker and Celery beat in one
command (SQLite app database and SQLite broker file, no servers needed). Ctrl-C stops all three.

A worker or beat that dies is started again (waiting 1, 2, 4... up to 30 seconds between
restarts); the command exits with status 1 and says why when the web server cannot start (the
port is taken, say) or stops. Confirm links sent to patients follow the address served unless
PUBLIC_BASE_URL is set."""

import os
import signal
import socket
import subprocess  # noqa: S404 - starts the three processes of the embedded default
import sys
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from clinic.broker import broker_prepare, broker_prune
from clinic.demo import DEMO_PASSWORD, DEMO_USERS

RESTART_MAX_DELAY = 30  # seconds
WEB_START_TIMEOUT = 60  # seconds for the web server to accept connections
PRUNE_EVERY = 3600  # seconds between removals of delivered broker messages


def _split_addr(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise CommandError(f"--addr must be HOST:PORT (for example 127.0.0.1:8080), not {addr!r}")
    return host or "127.0.0.1", int(port)


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


class Supervised:
    """One child process, started again after it dies (``restart``) with a growing delay."""

    def __init__(self, name: str, command: list[str], env: dict, out):
        self.name, self.command, self.env, self.out = name, command, env, out
        self.proc: subprocess.Popen | None = None
        self.restarts = 0
        self.next_start = 0.0

    def start(self) -> None:
        self.proc = subprocess.Popen(self.command, env=self.env, start_new_session=True)  # noqa: S603
        self.out(f"{self.name} started (pid {self.proc.pid})")

    def died(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def schedule_restart(self, code: int) -> None:
        delay = min(RESTART_MAX_DELAY, 2**self.restarts)
        self.restarts += 1
        self.out(f"{self.name} exited with code {code}; starting it again in {delay} s (restart {self.restarts})")
        self.proc = None
        self.next_start = time.monotonic() + delay

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def wait(self, deadline: float) -> None:
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Command(BaseCommand):
    help = "Run web + Celery worker + beat together (embedded default)."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default=f"127.0.0.1:{os.environ.get('PORT', '8000')}")

    def handle(self, *args, addr, **options):
        host, port = _split_addr(addr)
        if not _port_free(host, port):
            raise CommandError(
                f"Cannot serve on {host}:{port}: the port is in use (another `make run`?). "
                f"Stop that program, or choose another port: make run PORT={port + 1}"
            )
        env = dict(os.environ)
        base_url = f"http://{host}:{port}"
        if "PUBLIC_BASE_URL" in os.environ:
            public = urlsplit(os.environ["PUBLIC_BASE_URL"])
            if public.hostname in ("127.0.0.1", "localhost") and (public.port or 80) != port:
                self.stderr.write(
                    f"Warning: PUBLIC_BASE_URL is {os.environ['PUBLIC_BASE_URL']} but the app serves {base_url}: "
                    "confirm links in reminders will point there."
                )
        else:
            env["PUBLIC_BASE_URL"] = base_url  # the worker writes the confirm links
        broker_prepare()
        broker_prune()
        py = sys.executable
        web = Supervised("web", [py, "manage.py", "runserver", f"{host}:{port}", "--noreload"], env, self._say)
        helpers = [
            Supervised(
                "worker",
                [py, "-m", "celery", "-A", "clinic", "worker", "-l", "warning"] + self._worker_args(),
                env,
                self._say,
            ),
            Supervised(
                "beat",
                [
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
                env,
                self._say,
            ),
        ]
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        failure = ""
        try:
            web.start()
            for helper in helpers:
                helper.start()
            failure = self._wait_for_web(web, host, port, lambda: stopping)
            if not failure and not stopping:
                self._banner(base_url)
            last_prune = time.monotonic()
            while not stopping and not failure:
                code = web.died()
                if code is not None:
                    failure = f"The web server stopped (exit code {code}); stopping the worker and beat."
                    break
                for helper in helpers:
                    code = helper.died()
                    if code is not None:
                        helper.schedule_restart(code)
                    elif helper.proc is None and time.monotonic() >= helper.next_start:
                        helper.start()
                if time.monotonic() - last_prune > PRUNE_EVERY:
                    broker_prune()
                    last_prune = time.monotonic()
                time.sleep(0.5)
        finally:
            everyone = [web, *helpers]
            for proc in everyone:
                proc.stop()
            deadline = time.monotonic() + 10
            for proc in everyone:
                proc.wait(deadline)
            self._say("Stopped web, worker and beat.")
        if failure:
            raise CommandError(failure)

    @staticmethod
    def _worker_args() -> list[str]:
        return ["--concurrency", "2", "--without-gossip", "--without-mingle"]

    def _wait_for_web(self, web: Supervised, host: str, port: int, stopping) -> str:
        deadline = time.monotonic() + WEB_START_TIMEOUT
        while time.monotonic() < deadline and not stopping():
            code = web.died()
            if code is not None:
                return f"The web server could not start on {host}:{port} (exit code {code}); see the message above."
            if _answers(host, port):
                return ""
            time.sleep(0.2)
        return "" if stopping() else f"The web server did not answer on {host}:{port} within {WEB_START_TIMEOUT} s."

    def _banner(self, base_url: str) -> None:
        self.stdout.write(self.style.SUCCESS(f"\nClinic app: {base_url}/  (worker and beat running)"))
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, _first, _last, role in DEMO_USERS:
            self.stdout.write(f"  {username:<11} {role}")
        self.stdout.write("Press Ctrl-C to stop.\n")

    def _say(self, message: str) -> None:
        self.stdout.write(message)
        self.stdout.flush()
