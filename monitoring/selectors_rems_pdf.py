"""Reads of the REMS PDFs: the complete, unsubmitted monitoring records of a period."""

import datetime as dt

from django.db.models import Q

from scheduling.models import Drug, SessionStatus

from .day import RemsRecord, rems_records, rems_sessions

PERIOD_LIMIT = 500  # records in one file at most


def complete_unsubmitted(*, first: dt.date, last: dt.date, tz: dt.tzinfo) -> list[RemsRecord]:
    """Esketamine sessions discharged between ``first`` and ``last`` (treatment dates, both
    included), not yet submitted and complete, oldest first. The bounds are read in ``tz`` a
    day wider on each side, then each record's own treatment date (its site's) decides."""
    since = dt.datetime.combine(first - dt.timedelta(days=1), dt.time(), tzinfo=tz)
    until = dt.datetime.combine(last + dt.timedelta(days=2), dt.time(), tzinfo=tz)
    sessions = (
        rems_sessions()
        .filter(status=SessionStatus.DISCHARGED, rems_submission__isnull=True, start__gte=since, start__lt=until)
        .filter(Q(course__isnull=True) | Q(course__protocol__drug=Drug.ESKETAMINE))
        .order_by("start", "pk")[:PERIOD_LIMIT]
    )
    records = rems_records(sessions, today_for=lambda s: s.chair.site.local_today())
    return [r for r in records if r.complete and first <= r.treatment_date <= last]
