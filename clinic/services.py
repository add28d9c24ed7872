"""Writes to the core records. Each runs in one transaction with its audit row."""

from django.db import transaction
from django.utils import timezone

from .audit import audit_record, changed_fields
from .models import AuditAction, Patient, StaffAlert


@transaction.atomic
def patient_save(*, form, formset, request) -> Patient:
    """Create or update a patient and their escort contacts from validated forms."""
    creating = form.instance.pk is None
    patient = form.save()
    formset.instance = patient
    formset.save()
    summary = changed_fields(form)
    if formset.has_changed():
        summary["escorts_changed"] = True
    audit_record(
        action=AuditAction.CREATE if creating else AuditAction.UPDATE,
        request=request,
        obj=patient,
        summary=summary,
    )
    return patient


def alert_raise(
    *,
    kind: str,
    dedupe_key: str,
    message: str,
    severity: str = "warning",
    audience: str = "nurse",
    site_id: int | None = None,
    patient_id: int | None = None,
    session_id: int | None = None,
    url: str = "",
) -> tuple[StaffAlert, bool]:
    """Raise a staff alert once per ``dedupe_key``; returns (alert, created)."""
    return StaffAlert.objects.get_or_create(
        dedupe_key=dedupe_key,
        defaults={
            "kind": kind,
            "message": message[:255],
            "severity": severity,
            "audience": audience,
            "site_id": site_id,
            "patient_id": patient_id,
            "session_id": session_id,
            "url": url,
        },
    )


def alert_acknowledge(*, alert: StaffAlert, user) -> bool:
    """Compare-and-set: only the first acknowledgement is kept."""
    changed = StaffAlert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
        acknowledged_at=timezone.now(), acknowledged_by=user
    )
    return changed == 1
