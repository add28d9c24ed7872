"""The live observation board: today's sessions at a site, each with its day
(``monitoring.day.SessionDay``), and the open nurse alerts."""

import datetime as dt

from django.db.models import Q
from django.utils import timezone

from clinic.models import StaffAlert
from scheduling.models import Session, SessionStatus

from .day import board_sessions, session_days
from .models import current_thresholds

OPEN_ALERTS_SHOWN = 20


def board_days(*, site, now: dt.datetime | None = None) -> dict:
    """Today's sessions at ``site`` (not cancelled), one day each, with the time they were
    read and the thresholds they were decided by. Six queries whatever the number of chairs:
    the thresholds, the sessions' ids, the sessions with their day's records, their readings,
    their overrides and their devices."""
    now = now or timezone.now()
    t = current_thresholds()
    today = now.astimezone(site.tzinfo).date()
    day_start = dt.datetime.combine(today, dt.time.min, tzinfo=site.tzinfo)
    # The ids first, then the sessions with their one-to-one records by id: PostgreSQL plans the
    # ten-table read by a time range again at every request (3.8 ms, five times its run: the
    # range's rows cannot be estimated before the times are known); by a list of ids it keeps
    # one plan for the connection. The ids' read of two tables plans in a fraction of that.
    ids = list(
        Session.objects.filter(chair__site=site, start__gte=day_start, start__lt=day_start + dt.timedelta(days=1))
        .exclude(status=SessionStatus.CANCELLED)
        .values_list("pk", flat=True)
    )
    sessions = (
        board_sessions().filter(pk__in=ids).exclude(status=SessionStatus.CANCELLED).order_by("start", "chair__name")
    )
    return {
        "days": session_days(sessions, t=t, now=now, tz=site.tzinfo),
        "today": today,
        "now": now,
        "thresholds": t,
    }


def board_alerts(*, site, audiences: tuple[str, ...] = ("nurse",)) -> list[StaffAlert]:
    """The open alerts for ``audiences`` (the nurses', and the prescribers' for a prescriber)
    of ``site`` and of every site, newest first: one query."""
    alerts = StaffAlert.objects.filter(acknowledged_at__isnull=True, audience__in=audiences).filter(
        Q(site=site) | Q(site__isnull=True)
    )
    return list(alerts[:OPEN_ALERTS_SHOWN])
