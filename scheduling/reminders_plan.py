"""Patient reminder rows: created when a session is booked, re-timed when it moves, skipped
(with the reason) when it is cancelled, marked no-show, or cannot be delivered.

``reminders_sync`` is the one entry point for the booking, move, cancel and no-show
services. It is safe to call any number of times. Rows that are ``sending``, ``sent`` or
``failed`` are never changed here: a message that went out stays recorded once, and the send
(scheduling.reminders) re-checks the session before it sends, so a row claimed just before a
cancellation is skipped there instead. The rules themselves are in rules_reminders.
"""

import functools

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import rules_reminders as rules
from .models import Reminder, Session

# Sync only rewrites rows in these states (compare-and-set on the status).
_REWRITABLE = (Reminder.Status.PENDING, Reminder.Status.SKIPPED)


@functools.cache
def _kinds_cached(specs: tuple) -> tuple[rules.ReminderKind, ...]:
    return rules.parse_reminder_kinds([dict(spec) for spec in specs])


def reminder_kinds() -> tuple[rules.ReminderKind, ...]:
    """The configured reminder kinds (settings.REMINDER_KINDS)."""
    specs = tuple(tuple(sorted(spec.items())) for spec in settings.REMINDER_KINDS)
    return _kinds_cached(specs)


def session_plans(*, session: Session, existing: dict | None = None, now=None) -> list[rules.Plan]:
    """The desired state of every reminder row of ``session`` (no writes)."""
    patient = session.patient
    existing = existing or {}
    now = now or timezone.now()
    return [
        rules.plan_reminder(
            kind,
            start=session.start,
            tz=session.chair.site.tzinfo,
            now=now,
            session_status=session.status,
            opted_out=patient.reminder_opt_out,
            channel=patient.preferred_channel,
            phone=patient.phone,
            email=patient.email,
            existing=existing.get(kind.name),
        )
        for kind in reminder_kinds()
    ]


@transaction.atomic
def reminders_sync(*, session: Session) -> None:
    """Bring the reminder rows of ``session`` in line with its current time and state."""
    session = Session.objects.select_related("patient", "chair__site").get(pk=session.pk)
    rows = {row.kind: row for row in Reminder.objects.filter(session=session)}
    existing = {
        kind: rules.Existing(status=row.status, due_at=row.due_at, skip_reason=row.skip_reason)
        for kind, row in rows.items()
    }
    channel = session.patient.preferred_channel if session.patient.preferred_channel != "none" else ""
    to_create = []
    for plan in session_plans(session=session, existing=existing):
        row = rows.get(plan.kind)
        if row is None:
            to_create.append(
                Reminder(
                    session=session,
                    kind=plan.kind,
                    channel=channel,
                    due_at=plan.due_at,
                    status=plan.status,
                    skip_reason=plan.skip_reason,
                )
            )
            continue
        if row.status not in _REWRITABLE:
            continue
        if (row.status, row.due_at, row.skip_reason, row.channel) == (
            plan.status,
            plan.due_at,
            plan.skip_reason,
            channel,
        ):
            continue
        # Compare-and-set: a tick that claimed the row a moment ago wins; its send task
        # re-checks the session before sending.
        Reminder.objects.filter(pk=row.pk, status=row.status).update(
            status=plan.status, due_at=plan.due_at, skip_reason=plan.skip_reason, channel=channel
        )
    if to_create:
        # A concurrent sync may have created the same (session, kind): the unique constraint
        # keeps one row and the other insert is dropped.
        Reminder.objects.bulk_create(to_create, ignore_conflicts=True)
