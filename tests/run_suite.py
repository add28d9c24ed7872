#!/usr/bin/env python3
"""Run the whole test suite against PostgreSQL and Redis (never SQLite).

1. DATABASE_URL / CELERY_BROKER_URL, or 127.0.0.1:5432 and 127.0.0.1:6379 by default.
2. If one is unreachable and the server binaries are installed, start a throwaway one on a
   free port for this run only; otherwise stop with a message that names the fix.
3. Install Debian's chromium (browser tests) and gettext (the catalog's test) when missing and we are root.
4. Run pytest; "no tests collected" (exit 5) counts as a failure.
"""

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/clinic"
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
FIX = "Start them with `docker compose up -d db redis`, or set DATABASE_URL / CELERY_BROKER_URL."


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_postgres(cleanup: list) -> str:
    initdb = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or (
        [shutil.which("initdb")] if shutil.which("initdb") else []
    )
    if not initdb:
        sys.exit(f"PostgreSQL is not reachable and no server binaries are installed. {FIX}")
    bindir = Path(initdb[-1]).parent
    data = Path(tempfile.mkdtemp(prefix="clinic-pg-"))
    port = free_port()
    run_as = []
    if os.geteuid() == 0:  # postgres refuses to run as root
        shutil.chown(data, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    print(f"PostgreSQL not reachable: starting a throwaway server on port {port}", flush=True)
    subprocess.run(
        [*run_as, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run(
        [
            *run_as,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            f"-p {port} -k {data} -c listen_addresses=127.0.0.1",
            "-w",
            "start",
            "-l",
            str(data / "log"),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    # Cleanups run in reverse order: stop the server first, then remove its data.
    cleanup.append(lambda: shutil.rmtree(data, ignore_errors=True))
    cleanup.append(
        lambda: subprocess.run(
            [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"], stdout=subprocess.DEVNULL
        )
    )
    return f"postgres://postgres@127.0.0.1:{port}/postgres"


def start_redis(cleanup: list) -> str:
    server = shutil.which("redis-server")
    if not server:
        sys.exit(f"Redis is not reachable and redis-server is not installed. {FIX}")
    port = free_port()
    print(f"Redis not reachable: starting a throwaway server on port {port}", flush=True)
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(50):
        if reachable("127.0.0.1", port):
            break
        time.sleep(0.1)
    cleanup.append(proc.terminate)
    return f"redis://127.0.0.1:{port}/0"


def ensure_system_packages() -> None:
    """Debian's chromium for the browser tests and GNU gettext for the catalog's test, installed
    when missing and we are root."""
    missing = [pkg for pkg, command in (("chromium", "chromium"), ("gettext", "xgettext")) if not shutil.which(command)]
    if not missing or os.environ.get("SKIP_BROWSER_INSTALL"):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"Installing Debian's {' and '.join(missing)} for the tests...", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env, stdout=subprocess.DEVNULL)
    elif "chromium" in missing:
        sys.exit("The browser tests need Chromium at /usr/bin/chromium: install the `chromium` package (see README).")


def runs(args: list[str]) -> list[list[str]]:
    """The pytest runs of this call. The whole suite: first every test but the ones that start
    real processes on TEST_WORKERS pytest-xdist workers (default: two, or one on a one-core
    machine; each with its own test database, the browser journeys together on one), then the
    tests that start real processes (Celery workers, gunicorn, run_embedded, the SQLite mode;
    marked ``serial`` in tests/conftest.py) in one process of their own, as their timings
    expect a machine not shared with other tests. A run of chosen tests (a path, -k or -m)
    and TEST_WORKERS=1 are one plain run."""
    paths = [a for a in args if not a.startswith("-") and (ROOT / a.split("::")[0]).exists()]
    chosen = bool(paths) or any(a in ("-k", "-m", "-n") or a.startswith(("-n", "--numprocesses")) for a in args)
    workers = int(os.environ.get("TEST_WORKERS") or min(2, os.cpu_count() or 1))
    if chosen or workers < 2:
        return [args]
    return [["-n", str(workers), "--dist", "loadgroup", "-m", "not serial", *args], ["-m", "serial", *args]]


def main() -> int:
    cleanup: list = []
    env = dict(os.environ)
    try:
        db_url = env.get("DATABASE_URL", DEFAULT_DB)
        db = urlparse(db_url)
        if not db.scheme.startswith("postgres"):
            sys.exit(f"The test suite runs on PostgreSQL only; DATABASE_URL is {db.scheme}://... {FIX}")
        if not reachable(db.hostname or "127.0.0.1", db.port or 5432):
            if "DATABASE_URL" in os.environ:
                sys.exit(f"PostgreSQL at {db.hostname}:{db.port or 5432} (DATABASE_URL) is not reachable. {FIX}")
            db_url = start_postgres(cleanup)
        broker_url = env.get("CELERY_BROKER_URL", DEFAULT_BROKER)
        broker = urlparse(broker_url)
        if not reachable(broker.hostname or "127.0.0.1", broker.port or 6379):
            if "CELERY_BROKER_URL" in os.environ:
                sys.exit(
                    f"Redis at {broker.hostname}:{broker.port or 6379} (CELERY_BROKER_URL) is not reachable. {FIX}"
                )
            broker_url = start_redis(cleanup)
        ensure_system_packages()
        env.update(DATABASE_URL=db_url, CELERY_BROKER_URL=broker_url)
        result = 0
        for run in runs(sys.argv[1:]):
            cmd = [sys.executable, "-m", "pytest", *run]
            print(
                f"Running {' '.join(cmd)} on {urlparse(db_url).hostname}:{urlparse(db_url).port} "
                f"with broker {broker_url}",
                flush=True,
            )
            code = subprocess.call(cmd, cwd=ROOT, env=env)
            if code == 5:
                print("pytest collected no tests: that is a failure.", file=sys.stderr)
                code = 1
            result = result or code
        return result
    finally:
        for fn in reversed(cleanup):
            fn()


if __name__ == "__main__":
    sys.exit(main())
