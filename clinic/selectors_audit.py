"""Reads for the audit report: filtering, keyset pages and constant-memory batches.

Every read orders by (created_at DESC, id DESC) and pages with a cursor on that pair, never
OFFSET, so page 1,000 costs what page 1 costs (see the index comments on AuditEvent)."""

import base64
import binascii
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils import timezone

from . import selectors
from .models import AuditEvent

PAGE_SIZE = 50
# What a page of the report shows (templates/clinic/audit_list_table.html): the export reads
# every column of the model.
PAGE_FIELDS = [
    "created_at",
    "username",
    "role",
    "actor",
    "action",
    "object_type",
    "object_id",
    "patient",
    "patient__last_name",
    "patient__first_name",
    "patient__mrn",
    "ip",
    "path",
    "summary",
]
# A name search that matches more patients than this is too broad to be an audit question.
MAX_PATIENTS_PER_FILTER = 50


def patients_matching(text: str) -> list[int]:
    """Patient ids for an MRN (exact) or a name (prefix, as the patient search)."""
    return list(selectors.patient_search(text).values_list("pk", flat=True)[:MAX_PATIENTS_PER_FILTER])


def _local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), timezone.get_default_timezone())


@dataclass(frozen=True)
class AuditFilter:
    """What the audit report was asked for, as conditions on the audit table's columns:
    (column, lookup, value) with lookup one of exact, gte, lt, in. ``empty``: nothing can match
    (a patient search that found no one)."""

    conditions: tuple[tuple[str, str, object], ...] = ()
    empty: bool = False


def audit_filter(
    *,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    username: str = "",
    patient: str = "",
    patient_ids: list[int] | None = None,
    action: str = "",
    object_type: str = "",
) -> AuditFilter:
    """Every given filter. Dates are the clinic's local days, both inclusive. ``patient`` is
    free text (MRN or name); ``patient_ids`` exact ids."""
    conditions = []
    if date_from:
        conditions.append(("created_at", "gte", _local_midnight(date_from)))
    if date_to and date_to < dt.date.max:  # the last day there is has no day after it
        conditions.append(("created_at", "lt", _local_midnight(date_to + dt.timedelta(days=1))))
    if username:
        conditions.append(("username", "exact", username))
    if patient:
        matching = patients_matching(patient)
        if not matching:
            return AuditFilter(empty=True)
        conditions.append(("patient_id", "in", tuple(matching)))
    if patient_ids is not None:
        if not patient_ids:
            return AuditFilter(empty=True)
        conditions.append(("patient_id", "in", tuple(patient_ids)))
    if action:
        conditions.append(("action", "exact", action))
    if object_type:
        conditions.append(("object_type", "exact", object_type))
    return AuditFilter(tuple(conditions))


def _matching(wanted: AuditFilter) -> QuerySet[AuditEvent]:
    qs = AuditEvent.objects.all()
    if wanted.empty:
        return qs.none()
    for column, lookup, value in wanted.conditions:
        qs = qs.filter(**{f"{column}__{lookup}": value})
    return qs


def audit_events(**filters) -> QuerySet[AuditEvent]:
    """Audit events matching every filter of ``audit_filter``, newest first (the export)."""
    return _matching(audit_filter(**filters)).select_related("patient").order_by("-created_at", "-id")


def encode_cursor(event) -> str:
    """The cursor of an event (anything with ``created_at`` and ``pk``)."""
    raw = f"{event.created_at.astimezone(dt.UTC).isoformat()}|{event.pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(value: str | None) -> tuple[dt.datetime, int] | None:
    """The (created_at, id) of a cursor; None for a missing or malformed one (first page)."""
    if not value:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        stamp, pk = raw.split("|")
        created_at = dt.datetime.fromisoformat(stamp)
        pk = int(pk)
        if created_at.tzinfo is None or not 0 < pk < 2**63:
            return None
        return created_at.astimezone(dt.UTC), pk
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError):
        return None


# The redundant bound on created_at (<= or >= the cursor's) is what lets the index scan start
# at the cursor.
def older_than(qs: QuerySet, cursor: tuple[dt.datetime, int]) -> QuerySet:
    created_at, pk = cursor
    return qs.filter(Q(created_at__lt=created_at) | Q(id__lt=pk), created_at__lte=created_at)


def newer_than(qs: QuerySet, cursor: tuple[dt.datetime, int]) -> QuerySet:
    created_at, pk = cursor
    return qs.filter(Q(created_at__gt=created_at) | Q(id__gt=pk), created_at__gte=created_at)


@dataclass
class KeysetPage:
    events: list[AuditEvent]  # with the fields PAGE_FIELDS names
    older: str | None  # cursor of the next (older) page, None on the last page
    newer: str | None  # cursor of the previous (newer) page, None on the first page


def _page_rows(wanted: AuditFilter, cursor, *, newer: bool, limit: int) -> list[AuditEvent]:
    qs = _matching(wanted).select_related("patient").only(*PAGE_FIELDS)
    if newer:
        qs = (newer_than(qs, cursor) if cursor else qs).order_by("created_at", "id")
    else:
        qs = (older_than(qs, cursor) if cursor else qs).order_by("-created_at", "-id")
    # The ORM writes the limit into the statement rather than passing it as a parameter, which
    # matters here: PostgreSQL's generic plan of a prepared statement with the limit as a
    # parameter cannot count on stopping early.
    return list(qs[:limit])


def keyset_page(wanted: AuditFilter, *, after: str | None = None, before: str | None = None, size: int = PAGE_SIZE):
    """One page of the events ``wanted``, newest first. ``after``: the page older than that
    cursor; ``before``: the page newer than it. Neither: the newest page."""
    if wanted.empty:
        return KeysetPage([], None, None)
    before_key = decode_cursor(before)
    after_key = decode_cursor(after)
    if before_key:
        rows = _page_rows(wanted, before_key, newer=True, limit=size + 1)
        more_newer = len(rows) > size
        events = list(reversed(rows[:size]))
        return KeysetPage(
            events, encode_cursor(events[-1]) if events else None, encode_cursor(events[0]) if more_newer else None
        )
    rows = _page_rows(wanted, after_key, newer=False, limit=size + 1)
    events = rows[:size]
    older = encode_cursor(events[-1]) if len(rows) > size else None
    newer = encode_cursor(events[0]) if after_key and events else None
    return KeysetPage(events, older, newer)


def iter_events(qs: QuerySet, *, batch_size: int = 2000) -> Iterator[AuditEvent]:
    """Every event of ``qs`` newest first, read ``batch_size`` rows per query with the keyset
    cursor: memory holds one batch whatever the number of rows."""
    cursor = None
    while True:
        batch = list((older_than(qs, cursor) if cursor else qs)[:batch_size])
        yield from batch
        if len(batch) < batch_size:
            return
        cursor = (batch[-1].created_at, batch[-1].pk)
