"""Peak memory of the audit CSV export for N rows. Prints JSON. Run by run_bench.py with the
benchmark's environment, or on its own against a loaded benchmark database:

    python tests/bench/export_memory.py --db clinic_bench --rows 1000000
    python tests/bench/export_memory.py --db clinic_bench --rows 1000000 --mode gunicorn
    python tests/bench/export_memory.py --date-from 2023-01-01 --date-to 2023-06-30

``--mode wsgi`` (default) calls Django's WSGI handler in this process as a WSGI server does
(sessions, middleware, the view's transaction) and reads the streamed body chunk by chunk:
the peak is this process's maximum resident set. ``--mode gunicorn`` serves the app with one
gunicorn sync worker, downloads the export over HTTP and reports the worker's peak resident
set (VmHWM). ``--rows N`` stops reading after N data rows (newest first, as the export
streams them); 0 reads the whole export. ``--tracemalloc`` also reports the peak of Python
allocations during the export (much slower).
"""

import argparse
import json
import os
import subprocess  # noqa: S404 - starts gunicorn in --mode gunicorn
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
EXPORT_PATH = "/audit/export.csv"


def status_mb(field: str, pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def session_cookie() -> str:
    """A signed-in session of the benchmark's administrator, as a Cookie header."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench_admin"), backend="clinic.auth.StaffBackend")
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


class Counter:
    """Counts the export's bytes and lines; says when ``rows`` data rows have been read."""

    def __init__(self, rows: int):
        self.limit = rows
        self.lines = 0
        self.size = 0

    def feed(self, chunk: bytes) -> bool:
        self.size += len(chunk)
        self.lines += chunk.count(b"\n")
        return bool(self.limit) and self.lines - 1 >= self.limit

    @property
    def rows(self) -> int:
        return max(self.lines - 1, 0)  # the header line


def export_in_process(query: str, rows: int, trace: bool) -> dict:
    """The export as a worker runs it since exports became background jobs (clinic.exports):
    the job writes the file in this process; ``rows`` is not used (the job writes every row)."""
    import tracemalloc

    from django.contrib.auth import get_user_model
    from django.http import QueryDict

    from clinic.exports import AUDIT_EXPORT, export_job_run, export_path
    from clinic.models import ExportJob

    user = get_user_model().objects.get(username="bench_admin")
    params = AUDIT_EXPORT.parse(QueryDict(query))
    before = status_mb("VmRSS")
    if trace:
        tracemalloc.start()
    job = ExportJob.objects.create(kind="audit", label="bench", params=params or {}, requested_by=user)
    started = time.monotonic()
    export_job_run(job_id=job.pk)
    seconds = time.monotonic() - started
    job.refresh_from_db()
    size = export_path(job).stat().st_size if job.status == "done" else 0
    export_path(job).unlink(missing_ok=True)
    result = {
        "mode": "job",
        "status": job.status,
        "rows": job.rows_done,
        "megabytes": round(size / 2**20, 1),
        "seconds": round(seconds, 1),
        "rss_before_mb": round(before, 1),
        # VmHWM: this program's own peak. ru_maxrss would also count the parent process (run_bench):
        # Linux carries the peak of the memory image replaced by exec over to the new program.
        "peak_rss_mb": round(status_mb("VmHWM"), 1),
    }
    if trace:
        result["tracemalloc_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        tracemalloc.stop()
    return result


def export_from_gunicorn(query: str, rows: int) -> dict:
    """The export over HTTP from one gunicorn sync worker; the worker's peak RSS (VmHWM).
    Exports are background jobs now: the download URL answers a redirect to the job page."""
    if not os.environ.get("EXPORT_MEMORY_OLD_ENDPOINT"):
        raise SystemExit("--mode gunicorn measured the streamed download, now a background job: use --mode wsgi")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cookie = session_cookie()
    binary = Path(sys.executable).parent / "gunicorn"
    cmd = [str(binary), "clinic.wsgi:application", "--workers", "1", "--bind", f"127.0.0.1:{port}"]
    server = subprocess.Popen([*cmd, "--timeout", "3600", "--log-level", "warning"], cwd=ROOT)  # noqa: S603
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2):  # noqa: S310 - loopback
                    break
            except urllib.error.HTTPError:  # 503: no worker or beat here, but gunicorn answers
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("gunicorn did not answer /healthz within 60 s") from None
                time.sleep(0.3)
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        worker = children[0]

        def get(path: str, counter: Counter) -> int:
            request = urllib.request.Request(f"{url}{path}", headers={"Cookie": cookie})  # noqa: S310 - loopback
            with urllib.request.urlopen(request, timeout=3600) as response:  # noqa: S310 - loopback
                while chunk := response.read(65536):
                    if counter.feed(chunk):
                        break
                return response.status

        get("/audit/", Counter(0))
        get(f"{EXPORT_PATH}?{query}", Counter(100))
        before = status_mb("VmRSS", worker)
        counter = Counter(rows)
        started = time.monotonic()
        status = get(f"{EXPORT_PATH}?{query}", counter)
        seconds = time.monotonic() - started
        time.sleep(0.5)  # let the worker notice the closed connection
        return {
            "mode": "gunicorn",
            "status": status,
            "rows": counter.rows,
            "megabytes": round(counter.size / 2**20, 1),
            "seconds": round(seconds, 1),
            "rss_before_mb": round(before, 1),
            "peak_rss_mb": round(status_mb("VmHWM", worker), 1),
        }
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--date-from", default="")
    parser.add_argument("--date-to", default="")
    parser.add_argument("--rows", type=int, default=0, help="stop after this many data rows (0: all)")
    parser.add_argument("--mode", choices=["wsgi", "gunicorn"], default="wsgi")
    parser.add_argument("--tracemalloc", action="store_true", help="also report the peak of Python allocations")
    parser.add_argument("--db", default="", help="a loaded benchmark database: use the benchmark's settings")
    args = parser.parse_args()
    if args.db:
        from tests.bench.run_bench import bench_env

        os.environ.update(bench_env(args))

    import django

    django.setup()
    params = {k: v for k, v in (("date_from", args.date_from), ("date_to", args.date_to)) if v}
    query = urllib.parse.urlencode(params)
    if args.mode == "gunicorn":
        result = export_from_gunicorn(query, args.rows)
    else:
        result = export_in_process(query, args.rows, args.tracemalloc)
    result["filter"] = params
    print(json.dumps(result))


if __name__ == "__main__":
    main()
