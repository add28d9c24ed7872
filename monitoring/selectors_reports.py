"""Reads for the compliance report: one site and period, each in a fixed number of queries
whatever the period's size (the tables are ``monitoring.reports``)."""

import dataclasses
import datetime as dt

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, QuerySet
from django.db.models.functions import TruncDate

from scheduling.models import Drug, Protocol, Session, SessionStatus

from . import selectors
from .models import AdverseEvent, PrescriberOverride, ReadingKind, VitalsReading

# The readings a report requires of a session; extra readings never make a record complete.
REQUIRED_KINDS = (ReadingKind.PRE_DOSE, ReadingKind.CHECKPOINT, ReadingKind.DISCHARGE)
# The sessions that have a REMS monitoring record: esketamine, or given outside a course.
HAS_REMS_RECORD = Q(course__isnull=True) | Q(course__protocol__drug=Drug.ESKETAMINE)


def sessions_in(site, start: dt.datetime, end: dt.datetime) -> QuerySet:
    return Session.objects.filter(chair__site=site, start__gte=start, start__lt=end).order_by()


def protocols() -> dict[int, list | None]:
    """Each protocol's checkpoint minutes, by primary key."""
    return dict(Protocol.objects.order_by().values_list("pk", "checkpoint_minutes"))


@dataclasses.dataclass(frozen=True)
class StatusCount:
    day: dt.date  # the site's local day
    status: str
    sessions: int
    due: int  # of them, those whose start has come


def status_counts(site, start: dt.datetime, end: dt.datetime, *, now: dt.datetime) -> list[StatusCount]:
    """Sessions counted by the site's local day and status, in one query."""
    rows = (
        sessions_in(site, start, end)
        .annotate(day=TruncDate("start", tzinfo=site.tzinfo))
        .values("day", "status")
        .annotate(n=Count("id"), due=Count("id", filter=Q(start__lt=now)))
        .order_by()
    )
    return [StatusCount(row["day"], row["status"], row["n"], row["due"]) for row in rows]


@dataclasses.dataclass(frozen=True)
class DischargedSession:
    pk: int
    # The protocol whose checkpoints apply: None for a session outside a course.
    protocol_id: int | None
    observation_length: dt.timedelta | None  # from the start of observation to discharge
    readings: frozenset  # (kind, checkpoint minute or None) of the required readings taken


def discharged_sessions(site, start: dt.datetime, end: dt.datetime) -> list[DischargedSession]:
    """The sessions discharged in the period with the (kind, minute) of their required
    readings and the length of their observation, in two queries."""
    discharged = sessions_in(site, start, end).filter(status=SessionStatus.DISCHARGED)
    # Corrected readings are not left out: a correction keeps the kind and checkpoint minute of
    # the reading it supersedes (``services.vitals_correct``), so the (kind, minute) pairs of a
    # session's readings are those of its effective readings, without an anti-join that probes
    # the supersedes index once per reading.
    readings = (
        VitalsReading.objects.filter(session__in=discharged.values("pk"), kind__in=REQUIRED_KINDS)
        .values_list("session_id", "kind", "checkpoint_minute")
        .order_by()
    )
    checkpoint = ReadingKind.CHECKPOINT.value
    have: dict[int, set] = {}
    for session_id, kind, minute in readings:
        have.setdefault(session_id, set()).add((kind, minute if kind == checkpoint else None))
    rows = discharged.annotate(
        length=ExpressionWrapper(
            F("observation__discharge__discharged_at") - F("observation__started_at"), output_field=DurationField()
        ),
    ).values_list("pk", "course__protocol_id", "length")
    return [DischargedSession(pk, protocol_id, length, frozenset(have.get(pk, ()))) for pk, protocol_id, length in rows]


def _with_rems_record(sessions: QuerySet, site, start: dt.datetime, end: dt.datetime) -> QuerySet:
    """Of ``sessions``, those discharged in the period that have a REMS monitoring record."""
    return sessions.filter(
        HAS_REMS_RECORD, chair__site=site, start__gte=start, start__lt=end, status=SessionStatus.DISCHARGED
    ).order_by()


@dataclasses.dataclass(frozen=True)
class RemsDay:
    day: dt.date  # the site's local day: the records' treatment date
    submitted: int
    unsubmitted: int


def rems_days(site, start: dt.datetime, end: dt.datetime) -> list[RemsDay]:
    """The REMS records of the period's discharged sessions, submitted or not, counted by the
    site's local day, in one query."""
    rows = (
        _with_rems_record(Session.objects, site, start, end)
        .annotate(day=TruncDate("start", tzinfo=site.tzinfo))
        .values("day")
        .annotate(
            submitted=Count("id", filter=Q(rems_submission__isnull=False)),
            unsubmitted=Count("id", filter=Q(rems_submission__isnull=True)),
        )
        .order_by()
    )
    return [RemsDay(row["day"], row["submitted"], row["unsubmitted"]) for row in rows]


def unsubmitted_rems_sessions(site, start: dt.datetime, end: dt.datetime) -> QuerySet:
    """The discharged sessions from ``start`` to ``end`` whose REMS record is still to submit,
    with everything the record shows (``selectors.rems_sessions``)."""
    return _with_rems_record(selectors.rems_sessions(), site, start, end).filter(rems_submission__isnull=True)


def adverse_event_counts(site, start: dt.datetime, end: dt.datetime) -> QuerySet:
    """Adverse events of the period's sessions counted by kind and severity (rows ``kind``, ``severity``, ``n``)."""
    return (
        AdverseEvent.objects.filter(session__chair__site=site, session__start__gte=start, session__start__lt=end)
        .values("kind", "severity")
        .annotate(n=Count("id"))
        .order_by()
    )


def override_rows(site, start: dt.datetime, end: dt.datetime) -> QuerySet:
    """The period's prescriber overrides, oldest first, as plain columns (a long period can hold many)."""
    return (
        PrescriberOverride.objects.filter(session__chair__site=site, session__start__gte=start, session__start__lt=end)
        .order_by("created_at", "pk")
        .values_list(
            "created_at",
            "session__patient__mrn",
            "kind",
            "blocks",
            "reason",
            "prescriber__first_name",
            "prescriber__last_name",
            "prescriber__username",
        )
    )
