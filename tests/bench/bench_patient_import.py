"""Patient import speed: a CSV file of 10,000 new patients checked (the dry run) and imported
in one transaction, then the same file again (every row already here), with the time of each
step printed. Everything runs in a transaction that is rolled back at the end, so the database
named by DATABASE_URL (migrated) is left as it was.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clinic .venv/bin/python tests/bench/bench_patient_import.py
    ... bench_patient_import.py --rows 20000
"""

import argparse
import csv
import io
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")


class Rollback(Exception):
    pass


def make_csv(rows: int, site_name: str) -> bytes:
    from clinic.imports import COLUMNS

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    for n in range(rows):
        writer.writerow(
            {
                "mrn": f"BENCH{n:07d}",
                "first_name": "Alex",
                "last_name": f"Bench{n}",
                "date_of_birth": f"19{50 + n % 50}-0{1 + n % 9}-1{n % 9}",
                "sex": "FMX"[n % 3],
                "phone": f"(212) 555-{n % 10000:04d}",
                "email": f"bench{n}@example.com",
                "preferred_channel": "sms",
                "site": site_name,
                "rems_enrollment_id": f"RMS{n:07d}",
                "rems_enrollment_date": "2026-01-10",
            }
        )
    return out.getvalue().encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import transaction

    from clinic import imports, services_import
    from clinic.models import AuditEvent, Patient, Site

    try:
        with transaction.atomic():
            site, _ = Site.objects.get_or_create(name="Bench import site")
            data = make_csv(args.rows, site.name)
            print(f"{args.rows:,} rows, {len(data) / 1024 / 1024:.1f} MB")
            started = time.perf_counter()
            plan = imports.plan(data)
            checked = time.perf_counter()
            assert plan.ok, plan.errors[:3]
            counts = services_import.patients_import(plan=plan, file_name="bench.csv")
            imported = time.perf_counter()
            print(f"check (dry run): {checked - started:6.2f} s")
            print(f"import:          {imported - checked:6.2f} s  {counts}")
            print(f"check + import:  {imported - started:6.2f} s")
            again = imports.plan(data)
            counts = services_import.patients_import(plan=again, file_name="bench.csv")
            print(f"same file again: {time.perf_counter() - imported:6.2f} s  {counts}")
            assert Patient.objects.filter(mrn__startswith="BENCH").count() == args.rows
            # One audit row per registered patient (on each patient's access report).
            assert AuditEvent.objects.filter(patient__mrn__startswith="BENCH", action="create").count() == args.rows
            raise Rollback
    except Rollback:
        print("(rolled back)")


if __name__ == "__main__":
    main()
