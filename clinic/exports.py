"""Long exports as background jobs: a member of staff asks for an export (audited), a worker
writes the CSV file with its progress on the job row, the page shows a progress bar and then
the download link (audited), and the file is removed after EXPORT_KEEP_HOURS.

The kinds of export are registered in ``clinic.registry`` (``ExportKind``): the audit trail
here, the compliance report's tables by ``monitoring``."""

import csv
import datetime as dt
import io
import itertools
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import Case, CharField, F, Func, Q, TextField, Value, When
from django.db.models.functions import Cast, Concat
from django.db.models.lookups import Regex
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _

from . import registry, selectors_audit, sql
from .audit import audit_record
from .formats import when
from .forms_audit import AuditFilterForm
from .models import AuditAction
from .models_ops import ExportJob

logger = logging.getLogger(__name__)

CHUNK = 5000  # rows written between two looks at the clock
PROGRESS_EVERY = 1.0  # seconds between two progress updates of the job row
# A running job whose progress has not moved for this long lost its worker (it was killed).
STALLED_AFTER = dt.timedelta(minutes=15)


# --- The audit trail's export ---------------------------------------------------------------

AUDIT_COLUMNS = (
    "id",
    "time",
    "user",
    "role",
    "actor",
    "action",
    "record type",
    "record id",
    "patient MRN",
    "patient",
    "ip",
    "path",
    "details",
    "hash",
)
AUDIT_FIELDS = (
    "id",
    "created_at",
    "username",
    "role",
    "actor",
    "action",
    "object_type",
    "object_id",
    "patient__mrn",
    "patient__first_name",
    "patient__last_name",
    "ip",
    "path",
    "summary",
    "hash",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """Spreadsheet formula injection: a text cell starting with = + - @ is shown as text."""
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def _audit_form(params: dict) -> AuditFilterForm:
    data = QueryDict(mutable=True)
    data.update({k: v for k, v in params.items() if isinstance(v, str)})
    return AuditFilterForm(data)


def audit_parse(data) -> dict | None:
    """The audit report's filters (as the report page's query has them), or None if invalid."""
    form = AuditFilterForm(data or None)
    if form.is_bound and not form.is_valid():
        return None
    return form.summary()


def audit_label(params: dict) -> str:
    if not params:
        return _("Audit trail")
    return _("Audit trail: %(filters)s") % {
        "filters": ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in params.items())
    }


def _audit_events(params: dict):
    return selectors_audit.audit_events(**_audit_form(params).filters())


def audit_count(params: dict) -> int:
    return _audit_events(params).order_by().count()


def audit_rows(params: dict) -> Iterator[tuple]:
    """The rows of the audit export, newest first: plain values read through one server-side
    cursor (no model objects), times in the clinic's zone. Only columns that hold typed text
    can start with a formula character; ids, times, addresses and hashes cannot."""
    zone = timezone.get_default_timezone()
    rows = _audit_events(params).values_list(*AUDIT_FIELDS).iterator(chunk_size=CHUNK)
    for pk, at, user, role, actor, action, otype, oid, mrn, first, last, ip, path, summary, digest in rows:
        yield (
            pk,
            at.astimezone(zone).isoformat(timespec="seconds"),
            _cell(user),
            role,
            actor,
            action,
            _cell(otype),
            _cell(oid),
            _cell(mrn) if mrn else "",
            _cell(f"{first} {last}") if mrn else "",
            ip or "",
            _cell(path),
            _cell(json.dumps(summary, sort_keys=True)) if summary else "",
            digest,
        )


def _text(expression):
    """A text column as the file shows it: a value starting like a formula starts with '."""
    if isinstance(expression, str):
        expression = F(expression)
    return Case(
        When(Regex(expression, r"^[-=+@\t\r]"), then=Concat(Value("'"), expression, output_field=CharField())),
        default=expression,
        output_field=CharField(),
    )


def audit_copy(params: dict, out, on_block) -> int:
    """The same rows as ``audit_rows`` through PostgreSQL's COPY (clinic.sql.copy_csv): the
    columns are ORM expressions, formatted by the database. Measured on 1 million rows with
    tests/bench/bench_export.py (README: Exports)."""
    named = Q(patient__isnull=False)
    rows = _audit_events(params).values_list(
        "id",
        Func(F("created_at"), Value('YYYY-MM-DD"T"HH24:MI:SSTZH:TZM'), function="to_char", output_field=CharField()),
        _text("username"),
        "role",
        "actor",
        "action",
        _text("object_type"),
        _text("object_id"),
        Case(When(named, then=_text("patient__mrn")), default=Value(""), output_field=CharField()),
        Case(
            When(
                named,
                then=_text(
                    Concat(F("patient__first_name"), Value(" "), F("patient__last_name"), output_field=CharField())
                ),
            ),
            default=Value(""),
            output_field=CharField(),
        ),
        Func(F("ip"), function="host", output_field=CharField()),
        _text("path"),
        Case(When(summary={}, then=Value("")), default=Cast("summary", TextField()), output_field=TextField()),
        "hash",
    )
    return sql.copy_csv(rows, out, time_zone=settings.TIME_ZONE, on_block=on_block)


AUDIT_EXPORT = registry.ExportKind(
    kind="audit",
    permission="clinic.view_auditevent",
    parse=audit_parse,
    label=audit_label,
    header=lambda params: list(AUDIT_COLUMNS),
    rows=audit_rows,
    count=audit_count,
    back_url="clinic:audit",
    copy=audit_copy,
)


# --- Jobs -----------------------------------------------------------------------------------


def export_path(job: ExportJob) -> Path:
    return Path(settings.EXPORT_DIR) / f"{job.token}.csv"


def export_request(*, kind: registry.ExportKind, params: dict, request) -> ExportJob:
    """A new export job for the signed-in user, audited as asked for. The caller queues
    ``clinic.tasks.export_run`` after the commit."""
    with transaction.atomic():
        job = ExportJob.objects.create(
            kind=kind.kind, label=kind.label(params)[:200], params=params, requested_by=request.user
        )
        audit_record(
            action=AuditAction.EXPORT,
            request=request,
            obj=job,
            object_type="export_job",
            summary={"kind": kind.kind, "step": "requested", **params},
        )
    return job


def export_download_record(*, job: ExportJob, request) -> None:
    """Audit the download of a finished export's file."""
    audit_record(
        action=AuditAction.EXPORT,
        request=request,
        obj=job,
        object_type="export_job",
        summary={"kind": job.kind, "step": "downloaded", **job.params},
    )


def _progress(job_id: int, **fields) -> None:
    ExportJob.objects.filter(pk=job_id).update(progress_at=timezone.now(), **fields)


class _ProgressReporter:
    """Writes the rows done to the job row every PROGRESS_EVERY seconds from a thread of its
    own (its own database connection): during a COPY the export's connection is busy."""

    def __init__(self, job_id: int):
        self.job_id, self.rows, self._stop = job_id, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"export-{job_id}-progress", daemon=True)

    def __enter__(self):
        # Inside a transaction (a test's) nobody else could see the progress, and the thread's
        # update would wait for that transaction's lock on the job row.
        if not connection.in_atomic_block:
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        reported = 0
        try:
            while not self._stop.wait(PROGRESS_EVERY):
                if self.rows != reported:
                    reported = self.rows
                    _progress(self.job_id, rows_done=reported)
        finally:
            connections.close_all()  # this thread's connections only

    def on_block(self, block: bytes) -> None:
        self.rows += bytes(block).count(b"\n")  # a line break inside a quoted value counts once more


def _write(kind: registry.ExportKind, job: ExportJob, out) -> int:
    """Write the file's lines to the binary file ``out``; returns the number of rows."""
    header = io.StringIO()
    csv.writer(header, lineterminator="\n").writerow(kind.header(job.params))
    out.write(header.getvalue().encode())
    if kind.copy is not None and connection.vendor == "postgresql":
        with _ProgressReporter(job.pk) as reporter:
            return kind.copy(job.params, out, reporter.on_block)
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")
    writer = csv.writer(text, lineterminator="\n")
    done, last = 0, time.monotonic()
    rows = iter(kind.rows(job.params))
    while chunk := list(itertools.islice(rows, CHUNK)):
        writer.writerows(chunk)
        done += len(chunk)
        if time.monotonic() - last >= PROGRESS_EVERY:
            _progress(job.pk, rows_done=done)
            last = time.monotonic()
    text.flush()
    text.detach()
    return done


def export_job_run(*, job_id: int) -> str:
    """Write the file of a queued job. Claims the job first (queued -> running), so a task
    delivered twice writes it once. Returns the job's status afterwards."""
    now = timezone.now()
    claimed = ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.QUEUED).update(
        status=ExportJob.Status.RUNNING, started_at=now, progress_at=now
    )
    if not claimed:
        return "skipped"
    job = ExportJob.objects.get(pk=job_id)
    kind = registry.export_kind(job.kind)
    path = export_path(job)
    part = path.with_suffix(".part")
    try:
        if kind is None:
            raise LookupError(f"no export of kind {job.kind!r} is installed")
        _progress(job.pk, rows_total=kind.count(job.params))
        path.parent.mkdir(parents=True, exist_ok=True)
        with part.open("wb") as out:
            done = _write(kind, job, out)
        os.replace(part, path)
    except Exception as exc:
        logger.exception("export job %s failed", job_id)
        part.unlink(missing_ok=True)
        _progress(job.pk, status=ExportJob.Status.FAILED, error=f"{exc.__class__.__name__}: {exc}"[:255])
        return ExportJob.Status.FAILED
    finished = timezone.now()
    _progress(
        job.pk,
        status=ExportJob.Status.DONE,
        rows_done=done,
        rows_total=done,
        filename=_filename(job, finished),
        size_bytes=path.stat().st_size,
        finished_at=finished,
        expires_at=finished + dt.timedelta(hours=settings.EXPORT_KEEP_HOURS),
    )
    return ExportJob.Status.DONE


def _filename(job: ExportJob, finished: dt.datetime) -> str:
    stamp = when(finished, "stamp", timezone.get_default_timezone())
    return f"{job.kind.replace(':', '-')}-{stamp}.csv"


def exports_sweep() -> dict[str, int]:
    """Remove the files of exports past their expiry (the job says "Expired"), and mark failed
    the running jobs whose worker stopped (no progress for STALLED_AFTER). Safe to run twice."""
    now = timezone.now()
    expired = 0
    for job in ExportJob.objects.filter(status=ExportJob.Status.DONE, expires_at__lte=now):
        export_path(job).unlink(missing_ok=True)
        expired += ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.DONE).update(
            status=ExportJob.Status.EXPIRED
        )
    stalled = ExportJob.objects.filter(status=ExportJob.Status.RUNNING, progress_at__lt=now - STALLED_AFTER)
    for job in stalled:
        export_path(job).with_suffix(".part").unlink(missing_ok=True)
    failed = stalled.update(status=ExportJob.Status.FAILED, error=_("The worker stopped before the file was written."))
    return {"expired": expired, "failed": failed}
