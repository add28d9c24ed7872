"""Writes to the core records. Each runs in one transaction and writes its own audit row."""

from axes.utils import reset as axes_reset
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from . import registry
from .audit import audit_record, changed_fields, diff, values_of
from .models import AuditAction, Patient, StaffAlert


@transaction.atomic
def patient_save(*, form, formset, request=None, user=None) -> Patient:
    """Register or update a patient and their escort contacts from validated forms."""
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
        user=user,
        obj=patient,
        summary=summary,
    )
    return patient


@transaction.atomic
def lockout_lift(*, username: str, request=None, user=None) -> bool:
    """Let a locked-out user name sign in again before its lock runs out. False when it was
    not locked out (nothing changed, nothing audited). An empty user name is refused: axes
    would read it as "every lockout"."""
    if not username or not username.strip():
        raise ValueError("lockout_lift needs a user name")
    if not axes_reset(username=username):
        return False
    account = get_user_model().objects.filter(username=username).only("pk").first()
    audit_record(
        action=AuditAction.UNLOCK,
        request=request,
        user=user,
        object_type="user",
        object_id=account.pk if account else "",
        summary={"username": username},
    )
    return True


@transaction.atomic
def outbox_retry(*, source: str, pk: int, request=None, user=None) -> bool:
    """Put a failed message of ``source`` (a registered retry source) back in the queue.
    Compare-and-set: False when it was not failed (any more)."""
    retried = registry.retry_source(source).retry(pk)
    if retried is None:
        return False
    # ``retried`` holds the values it had before the retry; the row now holds the new ones.
    fresh = type(retried)._default_manager.get(pk=retried.pk)
    changes = diff(values_of(retried), values_of(fresh))
    audit_record(
        action=AuditAction.UPDATE, request=request, user=user, obj=retried, summary={"retry": True, "changes": changes}
    )
    return True


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


@transaction.atomic
def alert_acknowledge(*, alert: StaffAlert, user, request=None) -> bool:
    """Compare-and-set: only the first acknowledgement is kept (and audited)."""
    now = timezone.now()
    changed = StaffAlert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
        acknowledged_at=now, acknowledged_by=user
    )
    if changed != 1:
        return False
    changes = {"acknowledged_at": [None, now.isoformat()], "acknowledged_by": [None, user.pk]}
    summary = {"fields": ["acknowledged_at", "acknowledged_by"], "changes": changes}
    audit_record(action=AuditAction.UPDATE, request=request, user=user, obj=alert, summary=summary)
    return True
