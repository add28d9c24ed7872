"""Reads for the session-day page and the REMS record. What a session's day allows is decided
by ``monitoring.day``; these load what a page needs in a fixed number of queries."""

import dataclasses
import datetime as dt
import json

from django.db.models import Q, Subquery
from django.db.models.functions import JSONObject
from django.utils import timezone

from scheduling.models import Drug, Session, SessionStatus

from . import rules
from .day import (
    RemsRecord,
    SessionDay,
    checkpoint_choices,
    day_sessions,
    load_day,
    rems_records,
    rems_sessions,
)
from .models import THRESHOLDS_ID, ClinicalThresholds, VitalsReading, current_thresholds

__all__ = [
    "RemsRecord",
    "SessionDay",
    "all_readings",
    "checkpoint_choices",
    "day_sessions",
    "rems_record",
    "rems_records",
    "rems_session",
    "rems_sessions",
    "rems_worklist",
    "session_day",
    "session_for_reading",
]

_THRESHOLD_FIELDS = tuple(f.name for f in dataclasses.fields(rules.Thresholds))


def session_for_reading(pk: int) -> tuple[Session, rules.Thresholds] | None:
    """The session a reading is recorded for, read under its row lock (held to the end of the
    transaction) with its chair and site, course and protocol and observation (what
    ``checkpoint_choices`` and ``services.vitals_record`` use), and the clinical thresholds in
    force, in one statement: the vitals POST is the busiest write of the day, and the
    thresholds as a subquery save it a round trip. None: no such session."""
    thresholds = ClinicalThresholds.objects.filter(pk=THRESHOLDS_ID).values(
        row=JSONObject(**{name: name for name in _THRESHOLD_FIELDS})
    )
    found = list(
        Session.objects.select_for_update(of=("self",))
        .select_related("chair__site", "course__protocol", "checkin", "observation__discharge")
        .annotate(thresholds_row=Subquery(thresholds))
        .filter(pk=pk)
    )
    if not found:
        return None
    session = found[0]
    row = session.thresholds_row
    if row is None:
        return session, current_thresholds()
    if isinstance(row["default_checkpoint_minutes"], str):  # SQLite nests a JSON column as its text
        row["default_checkpoint_minutes"] = json.loads(row["default_checkpoint_minutes"])
    return session, ClinicalThresholds(**row).as_rules()


def session_day(session_pk: int, *, now: dt.datetime | None = None) -> SessionDay:
    """The day of one session for its page, with its REMS record's facts and its nasal devices
    (``Session.DoesNotExist`` when there is none)."""
    sessions = rems_sessions().prefetch_related("dose__devices")
    return load_day(session_pk, now=now or timezone.now(), sessions=sessions)


def all_readings(session: Session) -> list[VitalsReading]:
    """Every reading, corrected ones included, oldest first, with who recorded it."""
    return list(
        VitalsReading.objects.filter(session=session)
        .select_related("recorded_by", "superseded_by")
        .order_by("taken_at", "pk")
    )


# --- REMS monitoring record -----------------------------------------------------------


def rems_session(session_pk: int) -> Session:
    return rems_sessions().get(pk=session_pk)


def rems_record(session: Session, *, today: dt.date | None = None) -> RemsRecord:
    """The REMS monitoring record of one session read by ``rems_session``."""
    today = today or session.chair.site.local_today()
    return rems_records([session], today_for=lambda s: today)[0]


def rems_worklist(*, today_for, limit: int = 200) -> list[RemsRecord]:
    """Esketamine sessions discharged and either incomplete or not yet submitted."""
    sessions = (
        rems_sessions()
        .filter(status=SessionStatus.DISCHARGED, rems_submission__isnull=True)
        .filter(Q(course__isnull=True) | Q(course__protocol__drug=Drug.ESKETAMINE))
        .order_by("start")[:limit]
    )
    return rems_records(sessions, today_for=today_for)
