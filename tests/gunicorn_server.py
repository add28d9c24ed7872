"""gunicorn with several workers on the test database, for tests of what web processes share
(the patient link's rate limit, the kept pages' change number)."""

import contextlib
import os
import socket
import subprocess  # noqa: S404 - starts gunicorn
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url() -> str:
    """The URL of the test database this process uses."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def get(url: str, headers: dict | None = None) -> tuple[int, str]:
    """The status and body of a GET (an error status included, not raised)."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own test server
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


@contextlib.contextmanager
def gunicorn(*, workers: int, env: dict[str, str]) -> Iterator[str]:
    """gunicorn serving the app on the test database with ``env`` added to this process's
    environment; yields its base URL once it answers, and stops it afterwards."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DEBUG": "True",
        "AUDIT_CHAIN_KEY": settings.AUDIT_CHAIN_KEY,
        **env,
    }
    cmd = [sys.executable, "-m", "gunicorn", "clinic.wsgi:application", "--workers", str(workers)]
    process = subprocess.Popen(  # noqa: S603
        [*cmd, "--bind", f"127.0.0.1:{port}", "--log-level", "warning"], cwd=ROOT, env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                get(f"{base}/accounts/login/")
                break
            except OSError:
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)
