"""Pure rules for patient reminders: when each kind is due and whether it should be sent.

No database and no clock here: callers pass ``now`` and the session's facts, so the rules
are tested directly (including the weeks when the clocks change).

Offsets are counted on the clinic's wall clock: "72 hours before" a 09:00 session on a
Monday is 09:00 on the Friday before, even when the clocks change over the weekend. A
patient gets the reminder at the same time of day as the appointment, which is what
"three days before" means to them.
"""

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from django.utils.translation import gettext, gettext_noop

PENDING = "pending"
SKIPPED = "skipped"

# Skip reasons (shown to staff on the session and the outbox pages). Stored in English on the
# reminder row, where the planner compares them (``REASON_TOO_LATE``), and translated where they
# are shown (``reason_text``).
REASON_CANCELLED = gettext_noop("session cancelled")
REASON_NO_SHOW = gettext_noop("session marked no-show")
REASON_STARTED = gettext_noop("session already under way")
REASON_OPTED_OUT = gettext_noop("patient opted out of reminders")
REASON_NO_PHONE = gettext_noop("no mobile number for SMS")
REASON_NO_EMAIL = gettext_noop("no e-mail address")
REASON_TOO_LATE = gettext_noop("too late: booked after the reminder time")
REASON_NOT_BEFORE_START = gettext_noop("reminder time is not before the session")


def reason_text(reason: str) -> str:
    """A stored skip reason in the clinic's language ('' for none)."""
    return gettext(reason) if reason else ""


@dataclass(frozen=True)
class ReminderKind:
    """``hours_before``: due that many wall-clock hours before the start. ``local_time``: due
    at that local time on the day of the session (the same-morning note). A same-day note
    may still go out when the session is booked after its time on the day itself."""

    name: str
    hours_before: int | None = None
    local_time: dt.time | None = None

    @property
    def is_same_day_note(self) -> bool:
        return self.local_time is not None


def parse_reminder_kinds(specs: list[dict]) -> tuple[ReminderKind, ...]:
    """Turn the REMINDER_KINDS setting into ReminderKind values; raises ValueError on a bad one."""
    kinds = []
    for spec in specs:
        name = spec.get("kind", "")
        if not name or len(name) > 20:
            raise ValueError(f"reminder kind needs a name of 1-20 characters: {spec!r}")
        if ("hours_before" in spec) == ("local_time" in spec):
            raise ValueError(f"reminder kind {name!r} needs exactly one of hours_before or local_time")
        if "hours_before" in spec:
            hours = int(spec["hours_before"])
            if hours <= 0:
                raise ValueError(f"reminder kind {name!r}: hours_before must be positive")
            kinds.append(ReminderKind(name=name, hours_before=hours))
        else:
            value = spec["local_time"]
            local_time = value if isinstance(value, dt.time) else dt.time.fromisoformat(value)
            kinds.append(ReminderKind(name=name, local_time=local_time))
    if len({kind.name for kind in kinds}) != len(kinds):
        raise ValueError("reminder kind names must be unique")
    return tuple(kinds)


def _localize(naive: dt.datetime, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """Attach the zone to a local wall-clock time. A time that does not exist (skipped by the
    spring-forward change) is read with the offset in force before the change, i.e. it moves
    one hour later on the wall clock; an ambiguous one (autumn) takes the first occurrence."""
    return naive.replace(tzinfo=tz, fold=0).astimezone(dt.UTC)


def due_at(kind: ReminderKind, *, start: dt.datetime, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """When a reminder of ``kind`` is due for a session starting at ``start`` (aware)."""
    local_start = start.astimezone(tz).replace(tzinfo=None)
    if kind.hours_before is not None:
        return _localize(local_start - dt.timedelta(hours=kind.hours_before), tz)
    return _localize(dt.datetime.combine(local_start.date(), kind.local_time), tz)


@dataclass(frozen=True)
class Existing:
    status: str
    due_at: dt.datetime
    skip_reason: str = ""


@dataclass(frozen=True)
class Plan:
    kind: str
    due_at: dt.datetime
    status: str  # PENDING or SKIPPED
    skip_reason: str = ""


def address_problem(*, channel: str, phone: str, email: str) -> str:
    """Why a message cannot go out on ``channel`` ('' when it can)."""
    if channel == "sms" and not phone:
        return REASON_NO_PHONE
    if channel == "email" and not email:
        return REASON_NO_EMAIL
    if channel not in ("sms", "email"):
        return REASON_OPTED_OUT
    return ""


def session_problem(status: str) -> str:
    """Why a session in ``status`` gets no reminders ('' when it does)."""
    return {
        "cancelled": REASON_CANCELLED,
        "no_show": REASON_NO_SHOW,
        "checked_in": REASON_STARTED,
        "in_observation": REASON_STARTED,
        "discharged": REASON_STARTED,
    }.get(status, "")


def skip_reason(
    *, session_status: str, opted_out: bool, channel: str, phone: str, email: str, started: bool = False
) -> str:
    """Why no reminder goes to this patient for this session ('' when one does): the session's
    state, then (when sending) whether it is already under way, the patient's opt-out, then the
    address for their channel. Planning and sending both ask this."""
    reason = session_problem(session_status)
    if not reason and started:
        reason = REASON_STARTED
    if not reason and (opted_out or channel == "none"):
        reason = REASON_OPTED_OUT
    if not reason:
        reason = address_problem(channel=channel, phone=phone, email=email)
    return reason


def plan_reminder(
    kind: ReminderKind,
    *,
    start: dt.datetime,
    tz: zoneinfo.ZoneInfo,
    now: dt.datetime,
    session_status: str,
    opted_out: bool,
    channel: str,
    phone: str,
    email: str,
    existing: Existing | None = None,
) -> Plan:
    """What the row for ``kind`` should be now.

    A row whose due time has not changed keeps its pending state even if that time has just
    passed (the tick is about to send it); a new or re-timed row whose time has already passed
    is skipped as too late, except the same-day note, which goes out at once when the session
    is booked (or moved) on the day itself before it starts."""
    due = due_at(kind, start=start, tz=tz)
    reason = skip_reason(session_status=session_status, opted_out=opted_out, channel=channel, phone=phone, email=email)
    if not reason and due >= start:
        reason = REASON_NOT_BEFORE_START
    if not reason and due <= now:
        unchanged = existing is not None and existing.due_at == due
        if unchanged and existing.status == PENDING:
            pass
        elif unchanged and existing.status == SKIPPED and existing.skip_reason == REASON_TOO_LATE:
            reason = REASON_TOO_LATE
        elif kind.is_same_day_note and now < start and now.astimezone(tz).date() == start.astimezone(tz).date():
            due = now
        else:
            reason = REASON_TOO_LATE
    if reason:
        return Plan(kind=kind.name, due_at=due, status=SKIPPED, skip_reason=reason)
    return Plan(kind=kind.name, due_at=due, status=PENDING)
