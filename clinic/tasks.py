"""Celery tasks of the core app."""

import logging

from celery import shared_task
from django.urls import reverse

from .audit import audit_chain_verify
from .health import heartbeat_touch
from .services import alert_raise

logger = logging.getLogger(__name__)


@shared_task
def audit_verify_nightly() -> bool:
    """Verify the audit chain; a break raises one administrator alert per broken row. The
    head hash goes to the log, so a copy of it lives outside the database: cutting rows off
    the end of the table would show against that copy. Safe to run twice."""
    report = audit_chain_verify()
    if report.intact:
        logger.info("audit chain intact: %s rows, head id %s hash %s", report.count, report.head_id, report.head_hash)
        return True
    logger.error("audit chain broken at row id %s: %s", report.broken_id, report.reason)
    alert_raise(
        kind="audit_chain_broken",
        dedupe_key=f"audit-chain-broken:{report.broken_id}",
        message=f"The audit trail failed its integrity check at row {report.broken_id}: {report.reason}.",
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
