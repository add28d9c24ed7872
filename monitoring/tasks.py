"""Periodic staff alerts of the session day. Safe to run twice: every alert has a dedupe key,
so a second run (or two beat ticks racing) raises nothing new."""

import datetime as dt

from celery import shared_task
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from clinic.formats import when
from scheduling.models import Drug, Session, SessionStatus
from scheduling.services import session_alert

from . import rules, services
from .day import day_sessions, session_days
from .models import current_thresholds


def _url(name: str, session: Session) -> str:
    return reverse(name, args=[session.pk])


def scan_observations(now: dt.datetime, t: rules.Thresholds) -> int:
    raised = 0
    sessions = day_sessions().filter(status=SessionStatus.IN_OBSERVATION)
    for day in session_days(sessions, t=t, now=now):
        session = day.session
        where = {"patient": session.patient.full_name, "chair": session.chair}
        for checkpoint in day.overdue:
            raised += _nurse_alert(
                session,
                kind="checkpoint_overdue",
                dedupe_key=f"overdue:session:{session.pk}:checkpoint:{checkpoint.key}",
                message=gettext("%(checkpoint)s overdue (due %(time)s): %(patient)s, %(chair)s")
                % {"checkpoint": checkpoint.label, "time": when(checkpoint.due_at, "time", day.tz), **where},
            )
        if day.past_planned_end:
            raised += _nurse_alert(
                session,
                kind="observation_past_end",
                dedupe_key=f"past_end:session:{session.pk}",
                message=gettext("Observation past its planned end (%(time)s): %(patient)s, %(chair)s")
                % {"time": when(session.planned_end, "time", day.tz), **where},
            )
    return raised


def _nurse_alert(session: Session, *, kind: str, dedupe_key: str, message: str) -> int:
    """Raise a warning for the nurses about one session; 1 if it is new, 0 if it existed."""
    return int(
        session_alert(
            session,
            kind=kind,
            dedupe_key=dedupe_key,
            message=message,
            severity="warning",
            audience="nurse",
            url=_url("monitoring:session-day", session),
        )
    )


def scan_rems(now: dt.datetime, t: rules.Thresholds) -> int:
    """Discharged esketamine sessions from the warning day of the REMS window on, still not
    submitted. Only sessions from the last window + a week are looked at."""
    raised = 0
    since = now - dt.timedelta(days=t.rems_window_days + 7)
    sessions = (
        day_sessions()
        .filter(status=SessionStatus.DISCHARGED, start__gte=since, rems_submission__isnull=True)
        .filter(Q(course__isnull=True) | Q(course__protocol__drug=Drug.ESKETAMINE))
    )
    for day in session_days(sessions, t=t, now=now):
        session = day.session
        today = now.astimezone(day.tz).date()
        if not day.rems_needs_warning(today):
            continue
        left = day.rems_days_left(today)
        values = {"patient": session.patient.full_name, "day": when(day.treatment_date, "date"), "days": left}
        if left >= 0:
            message = ngettext(
                "REMS monitoring record for %(patient)s (%(day)s) due in %(days)s day",
                "REMS monitoring record for %(patient)s (%(day)s) due in %(days)s days",
                left,
            )
        else:
            message = gettext("REMS monitoring record for %(patient)s (%(day)s) overdue")
        raised += session_alert(
            session,
            kind="rems_due",
            dedupe_key=f"rems:session:{session.pk}",
            message=message % values,
            severity="warning",
            audience="administrator",
            url=_url("monitoring:rems-record", session),
        )
    return raised


@shared_task(name="monitoring.tasks.alerts_scan")
def alerts_scan() -> int:
    """Raise alerts for overdue checkpoints, observations past their planned end and REMS
    records nearing the end of their window, and close the day's alerts of patients already
    discharged (raised while the discharge was being saved). Returns the number of new alerts."""
    now = timezone.now()
    t = current_thresholds()
    raised = scan_observations(now, t) + scan_rems(now, t)
    services.alerts_close_after_discharge()
    return raised
