"""The patient import's one write: every new and changed patient of a checked file in one
transaction, with one audit row naming what was done. Running it again with the same file
changes nothing (patients are matched by MRN)."""

from django.db import transaction
from django.utils import timezone

from .audit import audit_record
from .imports import FIELDS, Plan
from .models import AuditAction, Patient

BATCH = 1000


@transaction.atomic
def patients_import(*, plan: Plan, file_name: str = "", user=None, request=None) -> dict:
    """Write ``plan`` (which must have no errors). Returns the counts written."""
    if not plan.ok:
        raise ValueError("A file with errors is not imported.")
    now = timezone.now()
    new = [r.instance for r in plan.rows if r.action == "new"]
    changed = [r for r in plan.rows if r.action == "update"]
    for patient in new:
        patient.created_at = now
    Patient.objects.bulk_create(new, batch_size=BATCH)
    updated = []
    for row in changed:
        row.instance.updated_at = now
        updated.append(row.instance)
    update_fields = sorted({f for r in changed for f in r.changes} | {"updated_at"})
    if updated:
        # Only the columns the file changed (site as its id).
        Patient.objects.bulk_update(
            updated,
            [("site" if f == "site" else f) for f in update_fields if f in FIELDS or f == "updated_at"],
            batch_size=BATCH,
        )
    counts = {"new": len(new), "updated": len(updated), "unchanged": plan.unchanged}
    audit_record(
        action=AuditAction.CREATE,
        request=request,
        user=user,
        object_type="patient_import",
        summary={
            **counts,
            "file": file_name[:120],
            "new_mrns": [p.mrn for p in new],
            "updated": {r.mrn: r.changes for r in changed},
        },
    )
    return counts
