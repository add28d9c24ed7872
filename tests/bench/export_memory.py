"""Stream the audit CSV export through Django's test client in this (fresh) process and
report its peak memory. Run by run_bench.py with the benchmark's environment; prints JSON.

    python tests/bench/export_memory.py --date-from 2023-01-01 --date-to 2023-06-30
"""

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--date-from", default="")
    parser.add_argument("--date-to", default="")
    args = parser.parse_args()

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench_admin"))
    client.get("/audit/")  # warm up imports, templates and the connection
    before = rss_mb()
    started = time.monotonic()
    params = {k: v for k, v in (("date_from", args.date_from), ("date_to", args.date_to)) if v}
    response = client.get("/audit/export.csv", params)
    rows = -1  # the header line
    size = 0
    for chunk in response.streaming_content:
        size += len(chunk)
        rows += chunk.count(b"\n")
    seconds = time.monotonic() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "status": response.status_code,
        "rows": rows,
        "megabytes": round(size / 2**20, 1),
        "seconds": round(seconds, 1),
        "rss_before_mb": round(before, 1),
        "peak_rss_mb": round(peak, 1),
        "filter": params,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
