"""The one way to write the audit trail. Call it inside the same transaction as the change
it describes (views run in ATOMIC_REQUESTS), so a failed audit write rolls the change back."""

from django.conf import settings

from .models import AuditEvent, Patient
from .roles import user_role


def client_ip(request) -> str | None:
    if request is None:
        return None
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR") or None


def _patient_id_of(obj):
    if obj is None:
        return None
    if isinstance(obj, Patient):
        return obj.pk
    return getattr(obj, "patient_id", None)


def audit_record(
    *,
    action: str,
    request=None,
    user=None,
    obj=None,
    object_type: str = "",
    object_id: str | int = "",
    patient=None,
    summary: dict | None = None,
    actor: str = "staff",
    username: str = "",
) -> AuditEvent:
    """Append one audit event. ``obj`` fills object type/id and the patient it concerns."""
    if user is None and request is not None and getattr(request, "user", None) is not None:
        user = request.user if request.user.is_authenticated else None
    if obj is not None:
        object_type = object_type or obj._meta.model_name
        object_id = object_id or obj.pk
    patient_id = patient.pk if isinstance(patient, Patient) else patient
    if patient_id is None:
        patient_id = _patient_id_of(obj)
    return AuditEvent.objects.create(
        user=user,
        username=username or (user.get_username() if user else ""),
        role=user_role(user) if user else "",
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id) if object_id != "" else "",
        patient_id=patient_id,
        ip=client_ip(request),
        path=(request.path[:255] if request is not None else ""),
        summary=summary or {},
    )


def changed_fields(form) -> dict:
    """Summary of a write for the audit trail: which fields changed (not their values, so
    the audit trail does not become a second copy of the record)."""
    return {"fields": sorted(form.changed_data)}
