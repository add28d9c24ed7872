"""Pure scheduling rules: no database access here.

Schedules are planned in the clinic's local dates and times, then converted to aware
datetimes with the clinic's zone, so a 09:00 session stays 09:00 local across a
daylight-saving change."""

import datetime as dt
import math
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

# How far the generator looks for an open day before giving up on one session.
MAX_SHIFT_DAYS = 14

OpeningMap = Mapping[int, tuple[dt.time, dt.time]]  # weekday (0 = Monday) -> (opens, closes)


class ScheduleError(ValueError):
    """The protocol cannot be scheduled with the given preferences."""


@dataclass(frozen=True)
class PhaseSpec:
    """What the generator needs to know about one protocol phase."""

    name: str
    dose_mg: Decimal
    session_minutes: int
    sessions_per_week: int = 1
    weeks: int | None = None
    sessions: int | None = None
    interval_weeks: int = 1
    min_days_between: int = 2
    order: int = 0  # the phase's place in its protocol: the booking reads its length and dose by it

    @property
    def total_sessions(self) -> int:
        if self.sessions:
            return self.sessions
        return math.ceil((self.weeks or 0) / max(self.interval_weeks, 1)) * self.sessions_per_week


@dataclass(frozen=True)
class Proposal:
    """One proposed session, in local time."""

    sequence: int
    phase_name: str
    date: dt.date
    start: dt.datetime  # aware, in the clinic's zone
    end: dt.datetime  # aware, in the clinic's zone
    dose_mg: Decimal
    min_days_between: int
    moved_from: dt.date | None = None  # the preferred date, when a closure or the gap moved it
    phase_order: int = 0


def local_datetime(day: dt.date, at: dt.time, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """An aware datetime for a local wall-clock time."""
    return dt.datetime.combine(day, at, tzinfo=tz)


def session_end(start: dt.datetime, minutes: int) -> dt.datetime:
    """Planned end: elapsed minutes, computed in UTC so a DST change inside the session is right."""
    return (start.astimezone(dt.UTC) + dt.timedelta(minutes=minutes)).astimezone(start.tzinfo)


def overlaps(a_start: dt.datetime, a_end: dt.datetime, b_start: dt.datetime, b_end: dt.datetime) -> bool:
    """Half-open ranges [start, end) overlap: back-to-back sessions do not."""
    return a_start < b_end and b_start < a_end


def opening_problem(
    start: dt.datetime,
    end: dt.datetime,
    *,
    opening_hours: OpeningMap,
    closures: Iterable[dt.date],
    tz: zoneinfo.ZoneInfo,
) -> str | None:
    """Why a session cannot take place at this time, as an error code, or None when it can.

    Codes: ``closure_day`` (the site is closed that date), ``closed_day`` (no opening hours
    on that weekday), ``outside_hours`` (starts before opening or ends after closing)."""
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    if local_start.date() in set(closures):
        return "closure_day"
    hours = opening_hours.get(local_start.weekday())
    if hours is None:
        return "closed_day"
    opens, closes = hours
    if local_end.date() != local_start.date():
        return "outside_hours"
    if local_start.time() < opens or local_end.time() > closes:
        return "outside_hours"
    return None


def _pick_weekdays(weekdays: list[int], count: int) -> list[int]:
    """The weekdays used in a week with ``count`` sessions: the first ``count`` preferred days."""
    chosen = sorted(set(weekdays))
    if len(chosen) < count:
        raise ScheduleError(f"This protocol needs {count} sessions a week: choose at least {count} weekdays.")
    if count == len(chosen):
        return chosen
    if count == 1:
        return chosen[:1]
    # Spread the sessions across the week rather than taking neighbouring days.
    step = len(chosen) / count
    return [chosen[int(i * step)] for i in range(count)]


def _next_allowed_day(
    day: dt.date,
    at: dt.time,
    minutes: int,
    *,
    opening_hours: OpeningMap,
    closures: set[dt.date],
    tz: zoneinfo.ZoneInfo,
) -> dt.date:
    for shift in range(MAX_SHIFT_DAYS + 1):
        candidate = day + dt.timedelta(days=shift)
        start = local_datetime(candidate, at, tz)
        if opening_problem(start, session_end(start, minutes), opening_hours=opening_hours, closures=closures, tz=tz):
            continue
        return candidate
    raise ScheduleError(
        f"No open day within {MAX_SHIFT_DAYS} days of {day:%Y-%m-%d} "
        f"where a session at {at:%H:%M} fits the opening hours."
    )


def generate_schedule(
    *,
    phases: list[PhaseSpec],
    start_date: dt.date,
    weekdays: list[int],
    start_time: dt.time,
    opening_hours: OpeningMap,
    closures: Iterable[dt.date],
    tz: zoneinfo.ZoneInfo,
) -> list[Proposal]:
    """Propose the sessions of a course.

    Each phase has sessions in every ``interval_weeks``-th week on the preferred weekdays.
    The first phase starts in the week of ``start_date``; a later phase starts
    ``interval_weeks`` after the week of the previous session (tapering). A date that is
    closed, or too close to the previous session, moves to the next allowed day; the
    following sessions keep their minimum gap from it."""
    if not weekdays:
        raise ScheduleError("Choose at least one weekday.")
    closures = set(closures)
    proposals: list[Proposal] = []
    previous: dt.date | None = None
    week_start = start_date - dt.timedelta(days=start_date.weekday())  # Monday of the first week
    for phase in phases:
        days = _pick_weekdays(weekdays, phase.sessions_per_week)
        remaining = phase.total_sessions
        if remaining <= 0:
            continue
        if proposals:
            last_week = previous - dt.timedelta(days=previous.weekday())
            week_start = last_week + dt.timedelta(weeks=max(phase.interval_weeks, 1))
        while remaining:
            for weekday in days:
                if not remaining:
                    break
                preferred = week_start + dt.timedelta(days=weekday)
                if preferred < start_date:
                    continue
                earliest = preferred
                if previous is not None:
                    earliest = max(earliest, previous + dt.timedelta(days=phase.min_days_between))
                day = _next_allowed_day(
                    earliest,
                    start_time,
                    phase.session_minutes,
                    opening_hours=opening_hours,
                    closures=closures,
                    tz=tz,
                )
                start = local_datetime(day, start_time, tz)
                proposals.append(
                    Proposal(
                        sequence=len(proposals) + 1,
                        phase_name=phase.name,
                        date=day,
                        start=start,
                        end=session_end(start, phase.session_minutes),
                        dose_mg=phase.dose_mg,
                        min_days_between=phase.min_days_between,
                        moved_from=preferred if day != preferred else None,
                        phase_order=phase.order,
                    )
                )
                previous = day
                remaining -= 1
            if remaining:
                week_start += dt.timedelta(weeks=max(phase.interval_weeks, 1))
    return proposals


@dataclass(frozen=True)
class PlannedItem:
    """A session still to come, for re-planning: its local date and time and its gap rule."""

    date: dt.date
    at: dt.time
    minutes: int
    min_days_between: int


def replan_dates(
    *,
    items: list[PlannedItem],
    earliest: dt.date,
    last_attended: dt.date | None,
    opening_hours: OpeningMap,
    closures: Iterable[dt.date],
    tz: zoneinfo.ZoneInfo,
) -> list[dt.date]:
    """New dates for the rest of a course after a missed session.

    ``items`` starts with the session that replaces the missed one, then the sessions that
    follow it, in order. Each keeps its date unless that is before ``earliest`` or too close
    to the one before; then it moves to the next allowed day. Nothing moves earlier."""
    closures = set(closures)
    result: list[dt.date] = []
    previous = last_attended
    for item in items:
        candidate = max(item.date, earliest)
        if previous is not None:
            candidate = max(candidate, previous + dt.timedelta(days=item.min_days_between))
        day = _next_allowed_day(candidate, item.at, item.minutes, opening_hours=opening_hours, closures=closures, tz=tz)
        result.append(day)
        previous = day
    return result


def time_range(start: dt.datetime, end: dt.datetime, tz: zoneinfo.ZoneInfo) -> str:
    """ "09:00-11:45" in the clinic's zone."""
    return f"{start.astimezone(tz):%H:%M}-{end.astimezone(tz):%H:%M}"


# --- Bounds and spacing -----------------------------------------------------------------

T = TypeVar("T")

# Sessions are booked at most this many years ahead; a date further out is a typing mistake.
BOOKING_YEARS_AHEAD = 2
# The schedule pages show days from this many years back up to the booking horizon.
VIEW_YEARS_BACK = 10


def _years_from(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year + years, day=28)


def booking_horizon(today: dt.date) -> dt.date:
    """The last day a session may be booked on."""
    return _years_from(today, BOOKING_YEARS_AHEAD)


def bookable_day(day: dt.date, today: dt.date) -> bool:
    """A session may be booked on ``day``: from today up to the booking horizon."""
    return today <= day <= booking_horizon(today)


def viewable_range(today: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day the schedule pages show: VIEW_YEARS_BACK back, up to the booking horizon."""
    return _years_from(today, -VIEW_YEARS_BACK), booking_horizon(today)


def viewable_day(day: dt.date, today: dt.date) -> bool:
    first, last = viewable_range(today)
    return first <= day <= last


def too_close(day: dt.date, others: Iterable[tuple[dt.date, T]], min_days_between: int) -> T | None:
    """The first of ``others`` (local date, item) whose dose would fall fewer than
    ``min_days_between`` days from a dose on ``day`` (the same day counts), else None.

    With the default gap of 2 days, Monday and Wednesday are allowed, Monday and Tuesday are not."""
    for other_day, item in sorted(others, key=lambda pair: pair[0]):
        if abs((day - other_day).days) < min_days_between:
            return item
    return None
