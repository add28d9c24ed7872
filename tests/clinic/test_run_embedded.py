"""``manage.py run_embedded`` (what ``make run`` serves): the real command with its web server,
worker and beat on a SQLite database and the SQLite broker, in a temporary folder."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def embedded_env(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "PUBLIC_BASE_URL")}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        CELERY_BROKER_URL=f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}",
        HEALTH_HEARTBEAT_SECONDS="5",
        DJANGO_SETTINGS_MODULE="clinic.settings",
        PYTHONUNBUFFERED="1",
    )
    return env


def health(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except OSError:
        return 0, {}


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_it_exits_1_with_a_clear_message_when_the_port_is_taken(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "manage.py", "run_embedded", "--addr", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=embedded_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 1
    assert f"Cannot serve on 127.0.0.1:{port}: the port is in use" in result.stderr
    assert f"make run PORT={port + 1}" in result.stderr
    assert "Demo logins" not in result.stdout


def test_it_restarts_a_dead_worker_and_links_follow_the_port(tmp_path):
    env = embedded_env(tmp_path)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=300)
    port = free_port()
    log = (tmp_path / "run.log").open("w+")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "run_embedded", "--addr", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    output = lambda: (tmp_path / "run.log").read_text()  # noqa: E731
    try:
        wait_for(lambda: health(port)[0] == 200, 90, f"a green /healthz: {health(port)}\n{output()}")
        assert f"Clinic app: http://127.0.0.1:{port}/" in output()

        worker_pid = int(re.search(r"worker started \(pid (\d+)\)", output()).group(1))
        os.kill(worker_pid, signal.SIGKILL)
        wait_for(lambda: "worker exited with code" in output(), 30, "the worker's death to be noticed")
        wait_for(lambda: len(re.findall(r"worker started", output())) == 2, 30, "the worker to start again")
        assert proc.poll() is None, output()

        # The new worker takes work: a confirm link written by it points at the port served.
        script = (
            "import django; django.setup()\n"
            "from tests.bench.bench_reminders import load_reminders\n"
            "load_reminders(1)\n"
            "from scheduling.tasks import reminders_tick; reminders_tick.delay()\n"
        )
        subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, timeout=120)
        check = (
            "import django; django.setup()\n"
            "from clinic.models import OutboxMessage\n"
            "print('|'.join(OutboxMessage.objects.values_list('body', flat=True)))\n"
        )

        def outbox():
            return subprocess.run(
                [sys.executable, "-c", check], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
            ).stdout.strip()

        body = wait_for(outbox, 60, "the reminder in the outbox")
        assert f"http://127.0.0.1:{port}/c/" in body
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        code = proc.wait(30)
    assert code == 0, output()
    assert "Stopped web, worker and beat." in output()
