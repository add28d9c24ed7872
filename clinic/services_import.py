"""The patient import's one write: every new and changed patient of a checked file in one
transaction, audited as the registration form's writes are: one row for the import (the file
and its counts) and one row per registered or updated patient, with the patient set, so the
import shows on that patient's access report. Running it again with the same file changes
nothing and audits only the import's row (patients are matched by MRN)."""

from django.db import transaction
from django.utils import timezone

from .audit import audit_event, audit_record, audit_record_many
from .imports import FIELDS, Plan
from .models import AuditAction, Patient

BATCH = 1000


@transaction.atomic
def patients_import(*, plan: Plan, file_name: str = "", user=None, request=None) -> dict:
    """Write ``plan`` (which must have no errors). Returns the counts written."""
    if not plan.ok:
        raise ValueError("A file with errors is not imported.")
    now = timezone.now()
    written = [r for r in plan.rows if r.action in ("new", "update")]  # in the file's order
    new_rows = [r for r in written if r.action == "new"]
    changed = [r for r in written if r.action == "update"]
    for row in new_rows:
        row.instance.created_at = now
    Patient.objects.bulk_create([r.instance for r in new_rows], batch_size=BATCH)
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
    counts = {"new": len(new_rows), "updated": len(updated), "unchanged": plan.unchanged}
    file_name = file_name[:120]
    event = audit_record(
        action=AuditAction.CREATE,
        request=request,
        user=user,
        object_type="patient_import",
        summary={**counts, "file": file_name},
    )
    # One row per patient, appended in one go: 10,000 rows a row at a time would take longer
    # than the import itself.
    audit_record_many(
        [_patient_event(r, import_event=event, file_name=file_name, request=request, user=user) for r in written]
    )
    return counts


def _patient_event(row, *, import_event, file_name: str, request, user):
    """The patient's own row, as the registration form writes it (``fields``; for an update
    ``changes``: {field: [old, new]}, the site as its id), naming the file, its line and the
    import's row."""
    patient = row.instance
    if row.action == "new":
        action, changes = AuditAction.CREATE, {}
        fields = [f for f in FIELDS if Patient._meta.get_field(f).value_from_object(patient) not in (None, "")]
    else:
        action, fields = AuditAction.UPDATE, row.changes
        # Dates are stored as text by audit_event, as the registration form's are.
        changes = {f: [row.before[f], Patient._meta.get_field(f).value_from_object(patient)] for f in fields}
    summary = {"fields": fields, "import": import_event.pk, "file": file_name, "line": row.number}
    if changes:
        summary["changes"] = changes
    return audit_event(action=action, request=request, user=user, obj=patient, summary=summary)
