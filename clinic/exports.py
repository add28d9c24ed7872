"""Long exports as background jobs: a member of staff asks for an export (audited), a worker
writes the CSV file with its progress on the job row, the page shows a progress bar and then
the download link (audited), and the file is removed after EXPORT_KEEP_HOURS.

The kinds of export are registered in ``clinic.registry`` (``ExportKind``): the audit trail
here, the compliance report's tables by ``monitoring``."""

import csv
import datetime as dt
import itertools
import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.http import QueryDict
from django.utils import timezone

from . import registry, selectors_audit
from .audit import audit_record
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
    return "Audit trail" + (": " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in params.items()) if params else "")


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


AUDIT_EXPORT = registry.ExportKind(
    kind="audit",
    permission="clinic.view_auditevent",
    parse=audit_parse,
    label=audit_label,
    header=lambda params: list(AUDIT_COLUMNS),
    rows=audit_rows,
    count=audit_count,
    back_url="clinic:audit",
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
        done = 0
        with part.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(kind.header(job.params))
            rows = iter(kind.rows(job.params))
            last = time.monotonic()
            while chunk := list(itertools.islice(rows, CHUNK)):
                writer.writerows(chunk)
                done += len(chunk)
                if time.monotonic() - last >= PROGRESS_EVERY:
                    _progress(job.pk, rows_done=done)
                    last = time.monotonic()
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
    stamp = timezone.localtime(finished).strftime("%Y%m%d-%H%M")
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
    failed = stalled.update(status=ExportJob.Status.FAILED, error="The worker stopped before the file was written.")
    return {"expired": expired, "failed": failed}
