"""Celery tasks of the core app."""

import logging

from celery import shared_task
from django.urls import reverse
from django.utils.translation import gettext as _

from .audit import audit_chain_verify, audit_checkpoint_write
from .exports import export_job_run
from .exports import exports_sweep as sweep_exports
from .health import heartbeat_touch
from .services import alert_raise

logger = logging.getLogger(__name__)


def _alert_words(report) -> str:
    """The administrators' alert of a broken chain, in the clinic's language (the reason, from
    ``clinic.audit``, stays as the verifier writes it for the operator)."""
    if report.broken_id is not None:
        words = _("The audit trail failed its integrity check at row %(row)s: %(reason)s.")
        return words % {"row": report.broken_id, "reason": report.reason}
    words = _("The audit trail failed its integrity check at its end (row %(count)s): %(reason)s.")
    return words % {"count": report.count, "reason": report.reason}


@shared_task
def audit_verify_nightly() -> bool:
    """Verify the audit chain; a break raises one administrator alert per broken row. The
    head hash goes to the log, so a copy of it lives outside the database: cutting rows off
    the end of the table would show against that copy. Safe to run twice."""
    report = audit_chain_verify(checkpoint=True)
    if report.intact:
        logger.info(
            "audit chain intact: %s rows, head id %s hash %s (head %s:%s)",
            report.count,
            report.head_id,
            report.head_hash,
            report.count,
            report.head_hash,
        )
        return True
    where = f"row {report.broken_id}" if report.broken_id is not None else f"its end (row {report.count})"
    logger.error("audit chain broken at %s: %s", where, report.reason)
    alert_raise(
        kind="audit_chain_broken",
        dedupe_key=f"audit-chain-broken:{report.broken_id if report.broken_id is not None else f'end-{report.count}'}",
        message=_alert_words(report)[:255],
        severity="critical",
        audience="administrator",
        url=reverse("clinic:audit"),
    )
    return False


@shared_task(name="clinic.tasks.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Sent by beat every HEALTH_HEARTBEAT_SECONDS: a worker ran it, so a worker is alive and
    takes work from the queue (/healthz). Safe to run twice."""
    heartbeat_touch("worker")


@shared_task(name="clinic.tasks.audit_checkpoint", ignore_result=True)
def audit_checkpoint() -> None:
    """Record the audit chain's end as a signed checkpoint (beat, every few minutes), so rows
    cut off the end later show at the next verification. Safe to run twice: one more
    checkpoint of the same end."""
    checkpoint = audit_checkpoint_write()
    logger.info("audit chain head %s:%s", checkpoint.count, checkpoint.head_hash)


@shared_task(name="clinic.tasks.export_run", ignore_result=True, acks_late=True)
def export_run(job_id: int) -> str:
    """Write the file of an export job (clinic.exports); a second delivery finds it claimed."""
    return export_job_run(job_id=job_id)


@shared_task(name="clinic.tasks.exports_sweep", ignore_result=True)
def exports_sweep() -> dict[str, int]:
    """Beat, every 10 minutes: expired export files removed, stopped jobs marked failed."""
    return sweep_exports()
