"""Pure scheduling rules: no database access here.

Schedules are planned in the clinic's local dates and times, then converted to aware
datetimes with the clinic's zone, so a 09:00 session stays 09:00 local across a
daylight-saving change."""

import datetime as dt
import itertools
import math
import zoneinfo
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext, ngettext

from clinic.formats import when

# How far ahead the generator looks for an allowed day for one session. A long closure delays
# the sessions after it; only a site closed for all of this time refuses the course.
SEARCH_DAYS = 3 * 366

OpeningMap = Mapping[int, tuple[dt.time, dt.time]]  # weekday (0 = Monday) -> (opens, closes)

# "Monday" ... "Sunday" in the clinic's language (Django's own translations), Monday first.
WEEKDAY_NAMES = [WEEKDAYS[d] for d in range(7)]


def default_min_days_between(sessions_per_week: int, interval_weeks: int) -> int:
    """The minimum days between two doses of a phase unless an administrator sets another:
    2 for two or more a week, 5 for weekly, 10 for every two weeks (7 x weeks - 4 beyond)."""
    if sessions_per_week >= 2:
        return 2
    if interval_weeks <= 1:
        return 5
    return 7 * interval_weeks - 4


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
    review_after: bool = False  # the course pauses for a prescriber's review when this phase ends

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
    moved_from: dt.date | None = None  # the planned date, when a closure, the clock or the gap moved it
    phase_order: int = 0
    reason: str = ""  # why it moved, in words: "moved from Mon 6 Jul: site closed"
    review_follows: bool = False  # the last session before a prescriber's review


# --- Local clock times ------------------------------------------------------------------


def local_datetime(day: dt.date, at: dt.time, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """An aware datetime for a local wall-clock time.

    A time that happens twice (the night the clocks go back, e.g. 01:30 on 1 November 2026 in
    New York) means its first occurrence (``fold=0``, before the clocks go back). A time that
    does not exist (the night the clocks go forward) must be refused first with
    ``clock_problem``: this function would give an instant shown at another time."""
    return dt.datetime.combine(day, at.replace(tzinfo=None, fold=0), tzinfo=tz)


def time_exists(day: dt.date, at: dt.time, tz: zoneinfo.ZoneInfo) -> bool:
    """False for a wall-clock time skipped when the clocks go forward (02:30 on 8 March 2026 in New York)."""
    local = local_datetime(day, at, tz)
    back = local.astimezone(dt.UTC).astimezone(tz)
    return back.replace(tzinfo=None) == local.replace(tzinfo=None)


def time_repeated(day: dt.date, at: dt.time, tz: zoneinfo.ZoneInfo) -> bool:
    """True for a wall-clock time that happens twice, the night the clocks go back."""
    first = local_datetime(day, at, tz)
    return time_exists(day, at, tz) and first.utcoffset() != first.replace(fold=1).utcoffset()


def _clock_jump(day: dt.date, at: dt.time, tz: zoneinfo.ZoneInfo) -> str:
    local = local_datetime(day, at, tz)
    minutes = abs(int((local.replace(fold=1).utcoffset() - local.utcoffset()).total_seconds() // 60))
    return gettext("1 hour") if minutes == 60 else gettext("%(minutes)s minutes") % {"minutes": minutes}


def clock_problem(day: dt.date, at: dt.time, tz: zoneinfo.ZoneInfo) -> str | None:
    """Why ``at`` on ``day`` cannot be a session's start, naming the change of clocks, or None."""
    if time_exists(day, at, tz):
        return None
    return gettext(
        "%(time)s does not exist on %(day)s: the clocks go forward %(jump)s that night. Choose another time."
    ) % {"time": when(at, "time"), "day": when(day, "date"), "jump": _clock_jump(day, at, tz)}


def clock_note(day: dt.date, at: dt.time, tz: zoneinfo.ZoneInfo) -> str:
    """A note for a time that happens twice that night: the session is at the first one."""
    if not time_repeated(day, at, tz):
        return ""
    return gettext(
        "%(time)s happens twice on %(day)s (the clocks go back %(jump)s): the session is at the first one."
    ) % {"time": when(at, "time"), "day": when(day, "date"), "jump": _clock_jump(day, at, tz)}


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


# --- The course planner -----------------------------------------------------------------


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _names(weekdays: Iterable[int]) -> str:
    names = [str(WEEKDAY_NAMES[d]) for d in weekdays]
    if len(names) == 1:
        return names[0]
    return gettext("%(names)s and %(last)s") % {"names": ", ".join(names[:-1]), "last": names[-1]}


def usable_weekdays(
    weekdays: Iterable[int], at: dt.time, minutes: int, opening_hours: OpeningMap
) -> tuple[list[int], list[str]]:
    """The offered weekdays on which a session at ``at`` fits the opening hours, and why each
    other one does not."""
    usable, problems = [], []
    start_minutes = at.hour * 60 + at.minute
    for day in sorted(set(weekdays)):
        hours = opening_hours.get(day)
        if hours is None:
            problems.append(gettext("the site is closed on %(weekday)ss") % {"weekday": WEEKDAY_NAMES[day]})
            continue
        opens, closes = hours
        end_minutes = start_minutes + minutes
        if at < opens or end_minutes > closes.hour * 60 + closes.minute:
            end = when(dt.time(end_minutes // 60 % 24, end_minutes % 60), "time")
            problems.append(
                gettext("a session %(start)s-%(end)s does not fit %(weekday)s's hours (%(opens)s-%(closes)s)")
                % {
                    "start": when(at, "time"),
                    "end": end,
                    "weekday": WEEKDAY_NAMES[day],
                    "opens": when(opens, "time"),
                    "closes": when(closes, "time"),
                }
            )
            continue
        usable.append(day)
    return usable, problems


def choose_weekdays(usable: list[int], phase: PhaseSpec) -> list[int]:
    """The offered weekdays a phase uses: of every set of ``sessions_per_week`` days, the one
    whose closest two doses (this week's, and the last to next week's first) are furthest
    apart; the earliest such set on a tie. Refused when even those are closer than the phase's
    minimum gap."""
    count = phase.sessions_per_week
    if len(usable) < count:
        raise ScheduleError(
            ngettext(
                "%(phase)s needs %(count)s session a week on days the patient offered and the site is open: "
                "choose at least %(count)s such weekdays.",
                "%(phase)s needs %(count)s sessions a week on days the patient offered and the site is open: "
                "choose at least %(count)s such weekdays.",
                count,
            )
            % {"phase": phase.name, "count": count}
        )
    period = 7 * max(phase.interval_weeks, 1)
    best, best_gap = None, -1
    for combo in itertools.combinations(sorted(usable), count):
        gaps = [b - a for a, b in itertools.pairwise(combo)] + [period - (combo[-1] - combo[0])]
        if min(gaps) > best_gap:
            best, best_gap = list(combo), min(gaps)
    if best_gap < phase.min_days_between:
        raise ScheduleError(
            gettext(
                "%(phase)s needs %(count)s of the offered days at least %(days)s days apart, and %(names)s are "
                "closer than that: offer days further apart (for example Monday and Thursday)."
            )
            % {"phase": phase.name, "count": count, "days": phase.min_days_between, "names": _names(usable)}
        )
    return best


def _closure_reasons(closures: Iterable[dt.date] | Mapping[dt.date, str]) -> dict[dt.date, str]:
    if isinstance(closures, Mapping):
        return dict(closures)
    return {day: "" for day in closures}


@dataclass
class _Planner:
    """State shared by the phases of one plan: the doses placed so far and the calendar."""

    start_time: dt.time
    opening_hours: OpeningMap
    closures: dict[dt.date, str]
    tz: zoneinfo.ZoneInfo
    now: dt.datetime | None
    previous: dt.date | None
    usable: list[int]
    week_counts: Counter

    def why_not(self, day: dt.date, phase: PhaseSpec) -> str | None:
        """Why a dose of ``phase`` cannot be on ``day``, in words, or None when it can."""
        if self.previous is not None and day < self.previous + dt.timedelta(days=phase.min_days_between):
            return gettext("%(days)s days needed after the dose on %(day)s") % {
                "days": phase.min_days_between,
                "day": when(self.previous, "day"),
            }
        if day in self.closures:
            reason = self.closures[day]
            return gettext("site closed (%(reason)s)") % {"reason": reason} if reason else gettext("site closed")
        if not time_exists(day, self.start_time, self.tz):
            return gettext("%(time)s does not exist that day (the clocks go forward)") % {
                "time": when(self.start_time, "time")
            }
        start = local_datetime(day, self.start_time, self.tz)
        end = session_end(start, phase.session_minutes)
        if opening_problem(start, end, opening_hours=self.opening_hours, closures=(), tz=self.tz):
            return gettext("outside opening hours that day")
        if self.now is not None and start <= self.now:
            return gettext("%(time)s that day has already passed") % {"time": when(self.start_time, "time")}
        if self.week_counts[_monday(day)] >= phase.sessions_per_week:
            count = phase.sessions_per_week
            return ngettext("already %(count)s dose that week", "already %(count)s doses that week", count) % {
                "count": count
            }
        return None

    def place(self, slot: dt.date, phase: PhaseSpec, lower: dt.date) -> tuple[dt.date, str]:
        """The day a session planned for ``slot`` goes on, and why it moved ("" when it did not)."""
        reason = self.why_not(slot, phase)
        if reason is None:
            return slot, ""
        for shift in range(1, SEARCH_DAYS + 1):
            day = slot + dt.timedelta(days=shift)
            if day.weekday() in self.usable and day >= lower and self.why_not(day, phase) is None:
                return day, reason
        raise ScheduleError(
            gettext(
                "No day from %(day)s for %(years)s years where %(phase)s can continue at %(time)s: "
                "check the site's closures."
            )
            % {
                "day": when(slot, "date"),
                "years": SEARCH_DAYS // 366,
                "phase": phase.name,
                "time": when(self.start_time, "time"),
            }
        )

    def add(self, day: dt.date) -> None:
        self.previous = day
        self.week_counts[_monday(day)] += 1


def _slots(first_week: dt.date, days: list[int], interval: int, not_before: dt.date):
    """The planned days of a phase, in order: ``days`` of every ``interval``-th week."""
    week = first_week
    while True:
        for weekday in days:
            day = week + dt.timedelta(days=weekday)
            if day >= not_before:
                yield day
        week += dt.timedelta(weeks=interval)


def generate_schedule(
    *,
    phases: list[PhaseSpec],
    start_date: dt.date,
    weekdays: list[int],
    start_time: dt.time,
    opening_hours: OpeningMap,
    closures: Iterable[dt.date] | Mapping[dt.date, str],
    tz: zoneinfo.ZoneInfo,
    now: dt.datetime | None = None,
    after: dt.date | None = None,
    first_sequence: int = 1,
) -> list[Proposal]:
    """Propose the sessions of a course (or, with ``after``, of its rest after a review).

    The rules, each of which every plan keeps:

    - A phase's frequency is a ceiling: never more doses in a calendar week (Monday-Sunday)
      than its ``sessions_per_week``, never two doses closer than its ``min_days_between``
      (the gap is measured from the dose before, whichever phase gave it). A closure makes
      the course longer; nothing is ever compressed.
    - Only the weekdays the patient offered, and only those open at ``start_time`` for the
      whole session; a phase uses the offered days furthest apart (``choose_weekdays``) and a
      session that cannot be on its planned day moves to the next offered day that keeps
      every rule. Its ``reason`` says why, in words.
    - Every session starts at ``start_time`` local: a day on which that time does not exist
      (the clocks go forward) is skipped with the reason; a time that happens twice (the
      clocks go back) is its first occurrence (``fold=0``). ``start`` is exactly the instant
      shown, stored and reminded.
    - With ``now``: the start date is today or later, and no session is proposed at or
      before ``now``.
    - Planning stops after a phase with ``review_after``: the course pauses there for a
      prescriber's review, and its last session has ``review_follows``.

    The first phase starts in the week of ``start_date``; each later phase starts
    ``interval_weeks`` after the week of the dose before it."""
    if not weekdays:
        raise ScheduleError(gettext("Choose at least one weekday."))
    today = now.astimezone(tz).date() if now is not None else None
    if today is not None and start_date < today:
        raise ScheduleError(
            gettext("A course cannot start in the past: choose %(day)s or later.") % {"day": when(today, "date")}
        )
    planner = _Planner(
        start_time=start_time,
        opening_hours=opening_hours,
        closures=_closure_reasons(closures),
        tz=tz,
        now=now,
        previous=after,
        usable=[],
        week_counts=Counter([_monday(after)] if after else []),
    )
    proposals: list[Proposal] = []
    for phase in phases:
        total = phase.total_sessions
        if total <= 0:
            continue
        usable, problems = usable_weekdays(weekdays, start_time, phase.session_minutes, opening_hours)
        if len(usable) < phase.sessions_per_week and problems:
            raise ScheduleError(
                gettext("%(phase)s cannot be planned on the days offered: %(problems)s.")
                % {"phase": phase.name, "problems": "; ".join(problems)}
            )
        interval = max(phase.interval_weeks, 1)
        planner.usable = usable
        previous = planner.previous
        lower = max(start_date, today or start_date)
        if previous is not None:
            lower = max(lower, previous + dt.timedelta(days=phase.min_days_between))
            first_week = _monday(previous) + dt.timedelta(weeks=interval)
        else:
            first_week = _monday(start_date)
        if phase.sessions_per_week == 1:
            # One a week: the offered day that comes first once the phase may start.
            first = max(lower, first_week)
            days = [min(usable, key=lambda d: (d - first.weekday()) % 7)]
        else:
            days = choose_weekdays(usable, phase)
        slots = _slots(first_week, days, interval, lower)
        for n in range(total):
            lower = max(start_date, today or start_date)
            if planner.previous is not None:
                lower = max(lower, planner.previous + dt.timedelta(days=phase.min_days_between))
            # Slots a delay has overtaken are dropped: the course grows longer instead.
            slot = next(slots)
            while slot < lower:
                slot = next(slots)
            day, reason = planner.place(slot, phase, lower)
            planner.add(day)
            start = local_datetime(day, start_time, tz)
            proposals.append(
                Proposal(
                    sequence=first_sequence + len(proposals),
                    phase_name=phase.name,
                    date=day,
                    start=start,
                    end=session_end(start, phase.session_minutes),
                    dose_mg=phase.dose_mg,
                    min_days_between=phase.min_days_between,
                    moved_from=slot if day != slot else None,
                    phase_order=phase.order,
                    reason=gettext("Moved from %(day)s: %(reason)s.") % {"day": when(slot, "day"), "reason": reason}
                    if day != slot
                    else "",
                    review_follows=phase.review_after and n == total - 1,
                )
            )
        if phase.review_after:
            break
    return proposals


def _next_allowed_day(
    day: dt.date,
    at: dt.time,
    minutes: int,
    *,
    opening_hours: OpeningMap,
    closures: set[dt.date],
    tz: zoneinfo.ZoneInfo,
) -> dt.date:
    for shift in range(SEARCH_DAYS + 1):
        candidate = day + dt.timedelta(days=shift)
        if not time_exists(candidate, at, tz):
            continue
        start = local_datetime(candidate, at, tz)
        if opening_problem(start, session_end(start, minutes), opening_hours=opening_hours, closures=closures, tz=tz):
            continue
        return candidate
    raise ScheduleError(
        gettext("No open day from %(day)s for %(years)s years where a session at %(time)s fits the opening hours.")
        % {"day": when(day, "date"), "years": SEARCH_DAYS // 366, "time": when(at, "time")}
    )


@dataclass(frozen=True)
class PlannedItem:
    """A session still to come, for re-planning: its local date and time and its gap rule."""

    date: dt.date
    at: dt.time
    minutes: int
    min_days_between: int
    # The phase's ceiling of sessions in a calendar week (Monday to Sunday); None: no ceiling.
    per_week: int | None = None


def replan_dates(
    *,
    items: list[PlannedItem],
    earliest: dt.date,
    last_attended: dt.date | None,
    opening_hours: OpeningMap,
    closures: Iterable[dt.date],
    tz: zoneinfo.ZoneInfo,
    weekdays: Iterable[int] | None = None,
    kept: Iterable[dt.date] = (),
) -> list[dt.date]:
    """New dates for the rest of a course after a missed session.

    ``items`` starts with the session that replaces the missed one, then the sessions that
    follow it, in order. Each keeps its date unless that is before ``earliest``, too close to
    the one before, on a weekday the patient did not offer (``weekdays``, Monday 0) or in a
    calendar week that already holds the phase's ceiling of sessions (counting the course's
    ``kept`` dates); then it moves to the next day where none of these holds. Nothing moves
    earlier, and the course grows longer instead of being compressed."""
    closures = set(closures)
    offered = set(weekdays) if weekdays else set(range(7))
    per_week: dict[tuple[int, int], int] = {}
    for day in kept:
        week = day.isocalendar()[:2]
        per_week[week] = per_week.get(week, 0) + 1
    result: list[dt.date] = []
    previous = last_attended
    for item in items:
        candidate = max(item.date, earliest)
        if previous is not None:
            candidate = max(candidate, previous + dt.timedelta(days=item.min_days_between))
        for _ in range(SEARCH_DAYS):
            day = _next_allowed_day(
                candidate, item.at, item.minutes, opening_hours=opening_hours, closures=closures, tz=tz
            )
            full = item.per_week is not None and per_week.get(day.isocalendar()[:2], 0) >= item.per_week
            if day.weekday() in offered and not full:
                break
            candidate = day + dt.timedelta(days=1)
        else:
            raise ScheduleError(
                gettext("No offered day from %(day)s where the session fits.") % {"day": when(candidate, "date")}
            )
        week = day.isocalendar()[:2]
        per_week[week] = per_week.get(week, 0) + 1
        result.append(day)
        previous = day
    return result


def time_range(start: dt.datetime, end: dt.datetime, tz: zoneinfo.ZoneInfo) -> str:
    """ "09:00-11:45" in the clinic's zone."""
    return f"{when(start, 'time', tz)}-{when(end, 'time', tz)}"


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
