"""The audit export job against PostgreSQL's own COPY of the same rows, side by side.

    make bench-export                          # 1,000,000 audit rows
    make bench-export ARGS="--rows 100000 --runs 3"

Uses its own database (clinic_bench_export, created here; --keep-db keeps it loaded for the
next run, which then skips the load). PostgreSQL server: BENCH_POSTGRES_URL (default
postgres://postgres@127.0.0.1:5432). Each run times, on the same rows and the same machine:

- COPY: ``COPY (SELECT <the export's columns, joined with the patient, newest first>) TO STDOUT
  WITH CSV`` read by the client into a file, the practical floor for the same bytes;
- the job: ``clinic.exports.export_job_run`` for an unfiltered audit export, as a worker runs it
  (the file, the progress updates, the job row).

Target: the job within 3x COPY.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

# The same rows and columns the export writes, in its order (clinic.exports.AUDIT_FIELDS).
COPY_SQL = """
COPY (
  SELECT e.id, to_char(e.created_at AT TIME ZONE %(zone)s, 'YYYY-MM-DD"T"HH24:MI:SS') AS time,
         e.username, e.role, e.actor, e.action, e.object_type, e.object_id,
         p.mrn, p.first_name || ' ' || p.last_name, host(e.ip), e.path,
         CASE WHEN e.summary = '{}'::jsonb THEN '' ELSE e.summary::text END, e.hash
  FROM clinic_auditevent e LEFT JOIN clinic_patient p ON p.id = e.patient_id
  ORDER BY e.created_at DESC, e.id DESC
) TO STDOUT WITH CSV HEADER
"""


def log(message: str) -> None:
    print(f"[bench-export {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def prepare(args) -> None:
    import psycopg

    server = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [args.db]).fetchone()
        if exists and args.keep_db:
            return
        conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{args.db}"')


def load(rows: int) -> None:
    """Patients through the ORM, then the audit rows in one INSERT ... SELECT (a chain is not
    needed to export them): half name a patient, a third carry a summary."""
    from django.db import connection

    from clinic.models import Patient, Site

    site, _ = Site.objects.get_or_create(name="Bench")
    Patient.objects.filter(site=site).delete()
    Patient.objects.bulk_create(
        Patient(
            mrn=f"BX{i:08d}",
            first_name=f"First{i}",
            last_name=f"Last{i}",
            date_of_birth="1980-01-01",
            sex="X",
            site=site,
        )
        for i in range(1000)
    )
    first = Patient.objects.order_by("id").values_list("id", flat=True).first()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO clinic_auditevent (created_at, username, role, actor, action, object_type, object_id,
                                           patient_id, ip, path, summary, prev_hash, hash)
            SELECT now() - (i || ' seconds')::interval, 'nurse' || (i %% 20), 'Nurse', 'staff', 'view',
                   'patient', (i %% 1000)::text, CASE WHEN i %% 2 = 0 THEN %s + i %% 1000 END,
                   ('10.0.0.' || (i %% 250))::inet, '/patients/' || (i %% 1000) || '/',
                   CASE WHEN i %% 3 = 0 THEN jsonb_build_object('q', 'Smith', 'page', i %% 7) ELSE '{}'::jsonb END,
                   md5(i::text) || md5((i + 1)::text), md5((i + 2)::text) || md5((i + 3)::text)
            FROM generate_series(1, %s) AS i
            """,
            [first, rows],
        )
        cursor.execute("ANALYZE")


def time_copy(zone: str) -> float:
    from django.db import connection

    with tempfile.TemporaryFile() as out:
        connection.ensure_connection()
        started = time.perf_counter()
        with connection.connection.cursor() as cursor, cursor.copy(COPY_SQL, {"zone": zone}) as copy:
            for block in copy:
                out.write(block)
        return time.perf_counter() - started


def time_job(user) -> tuple[float, int]:
    from clinic.exports import export_job_run, export_path
    from clinic.models import ExportJob

    job = ExportJob.objects.create(kind="audit", label="bench", params={}, requested_by=user)
    started = time.perf_counter()
    status = export_job_run(job_id=job.pk)
    elapsed = time.perf_counter() - started
    job.refresh_from_db()
    if status != "done":
        raise SystemExit(f"the export job ended {status}: {job.error}")
    export_path(job).unlink()
    return elapsed, job.rows_done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--db", default="clinic_bench_export")
    parser.add_argument("--keep-db", action="store_true", help="keep the loaded database (a later run reuses it)")
    args = parser.parse_args()

    server = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
    os.environ.update(
        DJANGO_SETTINGS_MODULE="clinic.settings",
        DEBUG="false",
        SECRET_KEY="bench-export-not-a-secret",
        DATABASE_URL=f"{server}/{args.db}",
        EXPORT_DIR=tempfile.mkdtemp(prefix="clinic-bench-export-"),
        LOG_LEVEL="WARNING",
    )
    prepare(args)
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from clinic.models import AuditEvent

    call_command("migrate", verbosity=0)
    if not AuditEvent.objects.exists():
        log(f"loading {args.rows:,} audit rows into {args.db}")
        load(args.rows)
    user, _ = User.objects.get_or_create(username="bench-admin")
    copies, jobs = [], []
    for run in range(args.runs):
        copies.append(time_copy(settings.TIME_ZONE))
        elapsed, rows = time_job(user)
        jobs.append(elapsed)
        log(f"run {run + 1}: COPY {copies[-1]:.2f} s, export job {elapsed:.2f} s ({rows:,} rows)")
    copy_s, job_s = statistics.median(copies), statistics.median(jobs)
    print(f"audit rows exported: {rows:,}")
    print(f"PostgreSQL COPY of the same rows (median of {args.runs}): {copy_s:.2f} s")
    print(f"export job (median of {args.runs}): {job_s:.2f} s ({rows / job_s:,.0f} rows/s)")
    print(f"ratio job / COPY: {job_s / copy_s:.2f} (target <= 3.00)")
    if not args.keep_db:
        from django.db import connections

        connections.close_all()
        import psycopg

        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')


if __name__ == "__main__":
    main()
