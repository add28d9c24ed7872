"""Reads for the audit report: filtering, keyset pages and constant-memory batches.

Every read orders by (created_at DESC, id DESC) and pages with a cursor on that pair, never
OFFSET, so page 1,000 costs what page 1 costs (see the index comments on AuditEvent)."""

import base64
import binascii
import datetime as dt
from collections import namedtuple
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html import escape

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from . import selectors
from .models import AuditAction, AuditEvent, Patient
from .rows import converter

PAGE_SIZE = 50
# What a page of the report shows (event_rows_html), the columns of _PAGE_SELECT in order:
# the export reads every column of the model.
PAGE_FIELDS = [
    "pk",
    "created_at",
    "username",
    "role",
    "actor",
    "action",
    "object_type",
    "object_id",
    "patient_id",
    "patient_last_name",
    "patient_first_name",
    "patient_mrn",
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
    if date_to:
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


def audit_events(**filters) -> QuerySet[AuditEvent]:
    """Audit events matching every filter of ``audit_filter``, newest first (the export)."""
    wanted = audit_filter(**filters)
    qs = AuditEvent.objects.select_related("patient").order_by("-created_at", "-id")
    if wanted.empty:
        return qs.none()
    for column, lookup, value in wanted.conditions:
        qs = qs.filter(**{f"{column}__{lookup}": value})
    return qs


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
        if created_at.tzinfo is None:
            return None
        return created_at, int(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def older_than(qs: QuerySet, cursor: tuple[dt.datetime, int]) -> QuerySet:
    # The redundant created_at <= :c bound is what lets the index scan start at the cursor.
    created_at, pk = cursor
    return qs.filter(Q(created_at__lt=created_at) | Q(id__lt=pk), created_at__lte=created_at)


@dataclass
class KeysetPage:
    events: list  # PageRow: the attributes PAGE_FIELDS names
    older: str | None  # cursor of the next (older) page, None on the last page
    newer: str | None  # cursor of the previous (newer) page, None on the first page


PageRow = namedtuple("PageRow", PAGE_FIELDS)
# A page is read with one plain statement: the report is opened page after page, and building
# the same query through the ORM took longer than running it. The filters are the same
# AuditFilter conditions the export applies through the ORM.
_PAGE_COLUMNS = (
    "e.id, e.created_at, e.username, e.role, e.actor, e.action, e.object_type, e.object_id, "
    "e.patient_id, p.last_name, p.first_name, p.mrn, e.ip, e.path, e.summary"
)
_PAGE_TABLES = f"{AuditEvent._meta.db_table} e LEFT JOIN {Patient._meta.db_table} p ON p.id = e.patient_id"
_PAGE_SELECT = f"SELECT {_PAGE_COLUMNS} FROM {_PAGE_TABLES}"  # noqa: S608 - names from the models' metadata
_SQL_OPERATORS = {"exact": "=", "gte": ">=", "lt": "<"}
_CREATED_AT = AuditEvent._meta.get_field("created_at")
_SUMMARY = AuditEvent._meta.get_field("summary")


def _sql_value(value):
    return connection.ops.adapt_datetimefield_value(value) if isinstance(value, dt.datetime) else value


def _page_rows(wanted: AuditFilter, cursor, *, newer: bool, limit: int) -> list[PageRow]:
    where, params = [], []
    for column, lookup, value in wanted.conditions:
        if lookup == "in":
            where.append(f"e.{column} IN ({', '.join(['%s'] * len(value))})")
            params.extend(value)
        else:
            where.append(f"e.{column} {_SQL_OPERATORS[lookup]} %s")
            params.append(_sql_value(value))
    if cursor:
        # The redundant bound on created_at is what lets the index scan start at the cursor.
        created_at, pk = _sql_value(cursor[0]), cursor[1]
        where.append(
            "(e.created_at > %s OR e.id > %s) AND e.created_at >= %s"
            if newer
            else "(e.created_at < %s OR e.id < %s) AND e.created_at <= %s"
        )
        params.extend([created_at, pk, created_at])
    direction = "ASC" if newer else "DESC"
    sql = (
        _PAGE_SELECT
        + (f" WHERE {' AND '.join(where)}" if where else "")
        # The limit is written into the statement: with it a parameter, PostgreSQL's generic
        # plan could not count on stopping early, so it planned every execution again.
        + f" ORDER BY e.created_at {direction}, e.id {direction} LIMIT {int(limit)}"
    )
    with connection.cursor() as db:
        db.execute(sql, params)  # every value is a parameter
        rows = db.fetchall()
    created_at, summary = converter(_CREATED_AT), converter(_SUMMARY)
    return [
        PageRow(row[0], created_at(row[1]), *row[2:12], str(row[12]) if row[12] else None, row[13], summary(row[14]))
        for row in rows
    ]


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


# The rows of templates/clinic/audit_list_table.html, built here because a page of 50 rows
# printed value by value in the template language took longer than the rest of the request.
_ACTION_LABELS = dict(AuditAction.choices)


def _summary_html(summary) -> str:
    if not isinstance(summary, dict):
        return ""
    return "".join(
        f'<span class="me-2"><strong>{selectors.escaped(key)}</strong>: {selectors.printed(value)}</span>'
        for key, value in summary.items()
    )


def _patient_td(event, access_url: Callable[[int], str]) -> str:
    if event.patient_id is None:
        return "<td></td>"
    return (
        f'<td><a href="{access_url(event.patient_id)}">{escape(event.patient_last_name)}, '
        f'{escape(event.patient_first_name)}</a> <span class="text-muted small">{escape(event.patient_mrn)}</span></td>'
    )


def event_rows_html(events: list, *, patient_column: bool = True) -> SafeString:
    """The table rows of a page of events, every value escaped; times in the clinic's zone."""
    access_url = selectors.url_for_pk("clinic:patient-access")
    tz = timezone.get_current_timezone()
    rows = []
    for event in events:
        local = event.created_at.astimezone(tz)
        role = f' <span class="text-muted small">{escape(event.role)}</span>' if event.role else ""
        actor = f' <span class="badge bg-secondary">{escape(event.actor)}</span>' if event.actor != "staff" else ""
        object_id = f" #{escape(event.object_id)}" if event.object_id else ""
        who = escape(event.username) if event.username else "—"
        source = f'{escape(event.ip or "")}<br><span class="text-muted">{escape(event.path)}</span>'
        rows.append(
            "\n    <tr>\n"
            f'      <td class="text-nowrap"><time datetime="{local.isoformat()}">'
            f"{local.strftime('%Y-%m-%d %H:%M:%S')}</time></td>\n"
            f"      <td>{who}{role}{actor}</td>\n"
            '      <td><span class="badge text-bg-light border">'
            f"{escape(str(_ACTION_LABELS.get(event.action, event.action)))}</span></td>\n"
            f"      <td>{escape(event.object_type)}{object_id}</td>\n"
            f"      {_patient_td(event, access_url) if patient_column else ''}\n"
            f'      <td class="small">{source}</td>\n'
            f'      <td class="small">{_summary_html(event.summary)}</td>\n'
            "    </tr>\n  "
        )
    return mark_safe("".join(rows))  # noqa: S308 - every value escaped above
