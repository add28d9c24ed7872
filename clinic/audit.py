"""The one way to write the audit trail. Call it inside the same transaction as the change
it describes (views run in ATOMIC_REQUESTS), so a failed audit write rolls the change back.

Tamper evidence: every row carries ``hash`` = HMAC-SHA256 over its content and the previous
row's hash (``prev_hash``), in id order. Appends are serialised (a transaction-level
advisory lock on PostgreSQL, the immediate write transaction on SQLite), so the chain has
no forks. ``audit_chain_verify()`` walks it and names the first row that does not match.
The key (AUDIT_CHAIN_KEY) lives outside the database: someone who can write the table but
does not hold the key cannot rebuild a valid chain after editing it.

Durability: the row of a change commits with the change. The row of a page view (a GET that
changed nothing) commits without waiting for the disk flush on PostgreSQL, unless
AUDIT_VIEW_SYNCHRONOUS_COMMIT is set (see clinic.sql)."""

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils.translation import gettext_noop

from . import page_cache, sql
from .addresses import client_ip
from .models import AuditAction, AuditEvent, Patient
from .roles import user_role

GENESIS_HASH = "0" * 64
CHAIN_FIELDS = (
    "created_at",
    "user_id",
    "username",
    "role",
    "actor",
    "action",
    "object_type",
    "object_id",
    "patient_id",
    "ip",
    "path",
    "summary",
)


def _canonical_ip(value) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(str(value)))
    except ValueError:
        return str(value)


def row_digest(values: dict, prev_hash: str) -> str:
    """The chain hash of one row from its field values (as read back from the database)."""
    created_at = values["created_at"]
    payload = [
        "v1",
        created_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        values["user_id"],
        values["username"],
        values["role"],
        values["actor"],
        values["action"],
        values["object_type"],
        values["object_id"],
        values["patient_id"],
        _canonical_ip(values["ip"]),
        values["path"],
        values["summary"],
        prev_hash,
    ]
    message = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hmac.new(settings.AUDIT_CHAIN_KEY.encode(), message, hashlib.sha256).hexdigest()


def _patient_id_of(obj):
    if obj is None:
        return None
    if isinstance(obj, Patient):
        return obj.pk
    return getattr(obj, "patient_id", None)


def _lock_chain_and_read_head(*, page_view: bool = False) -> str:
    """Take the chain's append lock (held to the end of the transaction) and return the hash
    of the last row: one call of the function in migration 0005 on PostgreSQL (clinic.sql).
    SQLite needs no explicit lock: the database runs IMMEDIATE transactions, so this
    transaction already holds the write lock.

    ``page_view``: the row records a page being read, not a change; on PostgreSQL its
    transaction then commits without waiting for the disk flush when it has changed nothing
    else (AUDIT_VIEW_SYNCHRONOUS_COMMIT turns this off). Losing it in a server crash loses the
    end of the chain only: later rows reach the disk after it, in the order of the log."""
    if connection.vendor == "postgresql":
        head = sql.audit_chain_lock_and_head(page_view=page_view)
    else:
        head = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
    return head or GENESIS_HASH


def _append(event: AuditEvent, *, page_view: bool = False) -> None:
    """Lock, read the head, hash and insert ``event``: two statements."""
    event.prev_hash = _lock_chain_and_read_head(page_view=page_view)
    event.hash = row_digest({f: getattr(event, f) for f in CHAIN_FIELDS}, event.prev_hash)
    event.save(force_insert=True)


def audit_event(
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
    """One audit event, not yet written (``audit_record`` writes one, ``audit_record_many``
    several). ``obj`` fills object type/id and the patient it concerns."""
    if user is None and request is not None and getattr(request, "user", None) is not None:
        user = request.user if request.user.is_authenticated else None
    if obj is not None:
        object_type = object_type or obj._meta.model_name
        object_id = object_id or obj.pk
    patient_id = patient.pk if isinstance(patient, Patient) else patient
    if patient_id is None:
        patient_id = _patient_id_of(obj)
    return AuditEvent(
        user=user,
        username=username or (user.get_username() if user else ""),
        role=user_role(user) if user else "",
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id) if object_id != "" else "",
        patient_id=patient_id,
        ip=_canonical_ip(client_ip(request)),
        path=(request.path[:255] if request is not None else ""),
        # Stored as the database will return it, so the hash computed now matches the hash
        # recomputed from the row later.
        summary=json.loads(json.dumps(summary or {}, default=str)),
    )


def audit_record(*, action: str, request=None, **fields) -> AuditEvent:
    """Append one audit event (the arguments of ``audit_event``)."""
    event = audit_event(action=action, request=request, **fields)
    page_view = (
        action == AuditAction.VIEW
        and request is not None
        and request.method in ("GET", "HEAD")
        and not settings.AUDIT_VIEW_SYNCHRONOUS_COMMIT
    )
    # Inside a request's transaction no savepoint is needed: a failed write fails the request
    # and rolls everything back. Outside one, this opens the transaction that holds the lock.
    with transaction.atomic(savepoint=False):
        _append(event, page_view=page_view)
        if action in page_cache.CHANGE_ACTIONS:
            page_cache.changed()
    return event


def audit_record_many(events: list[AuditEvent], *, batch_size: int = 1000) -> None:
    """Append several events of one change (built by ``audit_event``), in their order: the
    chain's lock and head are read once, each row is hashed on the one before it exactly as
    ``audit_record`` hashes it, and the rows are inserted in batches. For a write of thousands
    of records (the patient import), where a row at a time would cost two statements each."""
    if not events:
        return
    with transaction.atomic(savepoint=False):
        prev_hash = _lock_chain_and_read_head()
        for event in events:
            event.prev_hash = prev_hash
            event.hash = prev_hash = row_digest({f: getattr(event, f) for f in CHAIN_FIELDS}, prev_hash)
        # Ids follow the list's order (one sequence, the chain's lock held): the chain's order.
        AuditEvent.objects.bulk_create(events, batch_size=batch_size)
        if any(event.action in page_cache.CHANGE_ACTIONS for event in events):
            page_cache.changed()


# Fields whose values never enter the audit trail: a change shows as "(changed)" instead.
SECRET_FIELD_PARTS = ("password", "secret", "token", "key")
# Stored in English in the row; the report translates it where it shows it.
HIDDEN = gettext_noop("(hidden)")


def is_secret_field(name: str) -> bool:
    return any(part in name.lower() for part in SECRET_FIELD_PARTS)


def _plain(value):
    """A value as the audit trail stores it (JSON: numbers, text, lists)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return str(value)


def _related_label(obj) -> str:
    content_type = getattr(obj, "content_type", None)
    codename = getattr(obj, "codename", None)
    if codename and content_type is not None:  # a permission: "app_label.codename"
        return f"{content_type.app_label}.{codename}"
    return str(obj)


def snapshot(obj) -> dict:
    """The field values of ``obj`` as they are in the database now (its own columns, foreign
    keys as ids, many-to-many fields as sorted labels), for ``diff``. Secret fields are
    replaced by a digest so a change is seen without the value being kept."""
    fresh = type(obj)._default_manager.filter(pk=obj.pk).first() if obj.pk is not None else None
    if fresh is None:
        return {}
    values = {}
    for field in fresh._meta.concrete_fields:
        if getattr(field, "auto_now", False):  # a time stamp of the change itself
            continue
        value = field.value_from_object(fresh)
        if is_secret_field(field.name):
            value = hashlib.sha256(str(value).encode()).hexdigest()
        values[field.name] = _plain(value)
    for field in fresh._meta.many_to_many:
        related = getattr(fresh, field.name).all()
        if field.related_model._meta.label == "auth.Permission":
            related = related.select_related("content_type")
        values[field.name] = sorted(_related_label(o) for o in related)
    return values


def diff(before: dict, after: dict) -> dict:
    """``{field: [old, new]}`` for every field whose value differs (``None`` for a side that
    has no such field: a created or deleted record). Secret fields read "(hidden)"."""
    changes = {}
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        changes[name] = [HIDDEN, HIDDEN] if is_secret_field(name) else [old, new]
    return changes


def changed_fields(form) -> dict:
    """Summary of a form's write for the audit trail: which fields changed, with their values
    before and after (``changes``: {field: [old, new]}; secret fields hidden)."""
    names = sorted(form.changed_data)
    changes = {}
    for name in names:
        if is_secret_field(name):
            changes[name] = [HIDDEN, HIDDEN]
            continue
        old = form.get_initial_for_field(form.fields[name], name)
        new = form.cleaned_data.get(name)
        changes[name] = [_plain(_value_of(old)), _plain(_value_of(new))]
    return {"fields": names, "changes": changes}


def _value_of(value):
    if isinstance(value, list | tuple):
        return [_value_of(v) for v in value]
    pk = getattr(value, "pk", None)
    return value if pk is None else pk


@dataclass(frozen=True)
class ChainReport:
    intact: bool
    count: int  # rows checked (up to and including the first broken one)
    broken_id: int | None = None
    reason: str = ""
    head_id: int | None = None
    head_hash: str = GENESIS_HASH


def _walk(*, batch_size: int, positions: set[int]) -> tuple[ChainReport, dict[int, tuple[int, str]]]:
    """Walk the whole chain in id order, ``batch_size`` rows per query (keyset reads, so
    memory stays flat on any table size). Stops at the first row that does not match.
    Returns the report and, for each position (1-based row number) in ``positions`` the walk
    reached, that row's (id, hash)."""
    expected_prev = GENESIS_HASH
    last_id = 0
    count = 0
    seen: dict[int, tuple[int, str]] = {}
    columns = ("id", "hash", "prev_hash", *CHAIN_FIELDS)
    while True:
        batch = list(AuditEvent.objects.filter(id__gt=last_id).order_by("id").values(*columns)[:batch_size])
        if not batch:
            break
        for row in batch:
            count += 1
            if row["prev_hash"] != expected_prev:
                reason = (
                    "its link to the previous row does not match: a row before it was removed, inserted or reordered"
                    if row["prev_hash"]
                    else "it was written outside the audit chain"
                )
                return ChainReport(False, count, row["id"], reason, last_id or None, expected_prev), seen
            if row_digest(row, row["prev_hash"]) != row["hash"]:
                reason = "its content does not match its hash: it was changed after it was written"
                return ChainReport(False, count, row["id"], reason), seen
            if count in positions:
                seen[count] = (row["id"], row["hash"])
            expected_prev = row["hash"]
            last_id = row["id"]
    return ChainReport(True, count, head_id=last_id or None, head_hash=expected_prev), seen


def checkpoint_signature(count: int, head_id: int | None, head_hash: str) -> str:
    message = json.dumps(["checkpoint-v1", count, head_id, head_hash], separators=(",", ":")).encode()
    return hmac.new(settings.AUDIT_CHAIN_KEY.encode(), message, hashlib.sha256).hexdigest()


def audit_checkpoint_write(*, count: int | None = None, head_id: int | None = None, head_hash: str = "") -> object:
    """Record the chain's end as a signed checkpoint (outside the audit table). Without
    arguments, the end as it is now: the last committed row and the number of rows up to it
    (appends take the chain's lock and commit in id order, so no row before it can still
    appear)."""
    from .models import AuditCheckpoint

    if count is None:
        head = AuditEvent.objects.order_by("-id").values_list("id", "hash").first()
        head_id, head_hash = head if head else (None, GENESIS_HASH)
        count = AuditEvent.objects.filter(id__lte=head_id).count() if head_id else 0
    return AuditCheckpoint.objects.create(
        count=count, head_id=head_id, head_hash=head_hash, signature=checkpoint_signature(count, head_id, head_hash)
    )


def _end_problem(report: ChainReport, seen: dict, count: int, head_hash: str, what: str) -> str:
    """Why the chain does not reach an end it is known to have had (``what`` names where that
    knowledge comes from), or "" when it does."""
    if report.count < count:
        return (
            f"rows were cut off the end: {what} saw {count} rows ending in hash {head_hash}, "
            f"the chain now has {report.count}"
        )
    if seen.get(count, (None, None))[1] != head_hash:
        return f"row {count} of the chain does not have the hash {what} recorded ({head_hash})"
    return ""


def parse_head(value: str) -> tuple[int, str]:
    """COUNT:HASH as ``audit_verify`` prints it (ValueError when malformed)."""
    count, _, head_hash = value.partition(":")
    if not count.isdigit() or len(head_hash) != 64 or any(c not in "0123456789abcdef" for c in head_hash):
        raise ValueError("expected COUNT:HASH, e.g. 1234:3f5a... (64 hex digits)")
    return int(count), head_hash


def audit_chain_verify(
    *, batch_size: int = 2000, expect_head: tuple[int, str] | None = None, checkpoint: bool = False
) -> ChainReport:
    """Walk the chain (see ``_walk``), then check that it still reaches its recorded end: the
    latest signed checkpoint and ``expect_head`` (count, hash), an anchor kept outside the
    database. A checkpoint whose signature does not match is a break too. ``checkpoint``: an
    intact chain gets a new checkpoint of its end."""
    from .models import AuditCheckpoint

    latest = AuditCheckpoint.objects.order_by("-count", "-id").first()
    positions = {c for c in ((latest.count if latest else 0), (expect_head[0] if expect_head else 0)) if c}
    report, seen = _walk(batch_size=batch_size, positions=positions)
    if not report.intact:
        return report
    problems = []
    if latest is not None:
        if not hmac.compare_digest(
            latest.signature, checkpoint_signature(latest.count, latest.head_id, latest.head_hash)
        ):
            problems.append(f"checkpoint {latest.pk} is not signed with this AUDIT_CHAIN_KEY: it was forged or altered")
        else:
            what = f"the checkpoint of {latest.created_at.isoformat(timespec='seconds')}"
            problems.append(_end_problem(report, seen, latest.count, latest.head_hash, what))
    if expect_head is not None:
        problems.append(_end_problem(report, seen, *expect_head, "the expected head"))
    problems = [p for p in problems if p]
    if problems:
        return ChainReport(False, report.count, None, "; ".join(problems), report.head_id, report.head_hash)
    if checkpoint:
        audit_checkpoint_write(count=report.count, head_id=report.head_id, head_hash=report.head_hash)
    return report


# --- Before and after values of a write made by a service ----------------------------------
# A service that changes a record says what changed in its audit row's ``changes``:
# {field: [old, new]}, from the values it already holds (no extra query): ``values_of`` the
# record before the change, then ``changes_since`` that after it; ``values_of`` alone for a new
# record (``created_changes``).


def audit_value(value):
    """A value as ``changes`` holds it: an instant in UTC ISO 8601 (the audit words show it in
    the clinic's zone), dates and times in ISO form, decimals without trailing zeros, a record
    as its id, anything else as ``_plain`` stores it."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value.normalize():f}" if value.is_finite() else str(value)
    pk = getattr(value, "pk", None)
    if pk is not None and hasattr(value, "_meta"):
        return pk
    return _plain(value)


def _field_names(obj) -> list[str]:
    return [
        f.name
        for f in obj._meta.concrete_fields
        if not f.primary_key and not getattr(f, "auto_now", False) and not getattr(f, "auto_now_add", False)
    ]


def values_of(obj, names=None) -> dict:
    """``{field: value}`` of ``obj`` as it is in memory now (a foreign key as its id; no query),
    for the fields ``names`` (default: every column but the id and automatic time stamps).
    Secret fields read "(hidden)"."""
    values = {}
    for name in names if names is not None else _field_names(obj):
        field = obj._meta.get_field(name)
        values[name] = HIDDEN if is_secret_field(name) else audit_value(getattr(obj, field.attname))
    return values


def changes_since(before: dict, obj) -> dict:
    """``{field: [old, new]}`` for the fields of ``before`` (``values_of`` earlier) whose value
    ``obj`` holds now differs."""
    return diff(before, values_of(obj, list(before)))


def created_changes(obj, names=None) -> dict:
    """The ``changes`` of a new record: ``{field: [None, value]}`` for each field ``names``
    (default: every column) that has a value."""
    return {name: [None, value] for name, value in values_of(obj, names).items() if value not in (None, "", [], {})}
