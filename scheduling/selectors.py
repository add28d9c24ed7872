"""Reads for the schedule pages. Each page loads a fixed number of queries, however many
sessions there are: one per table, sessions with their patient, chair and ride joined."""

import datetime as dt
import math
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet
from django.utils import timezone

from clinic.models import Chair, Closure, OpeningHours, Site

from .models import Course, Session, SessionStatus, TransportArrangement

DEFAULT_OPEN, DEFAULT_CLOSE = dt.time(8), dt.time(18)


@dataclass
class Cell:
    kind: str  # "session", "free" or "closed"
    session: Session | None = None
    span: int = 1


@dataclass
class Column:
    day: dt.date
    chair: Chair
    closed: bool = False


@dataclass
class Grid:
    """Chairs (per day) as columns, time as rows. ``rows[i]`` is (label, cells); a cell is
    None where a session block above it spans that row."""

    columns: list[Column]
    rows: list[tuple[str, list[Cell | None]]]
    step: int
    off_grid: list[Session] = field(default_factory=list)


def site_choice(site_id) -> Site | None:
    sites = Site.objects.order_by("name")
    if site_id and str(site_id).isdigit():
        found = sites.filter(pk=site_id).first()
        if found:
            return found
    return sites.filter(chairs__active=True).first() or sites.first()


def _minutes(t: dt.time) -> int:
    return t.hour * 60 + t.minute


def build_grid(
    *,
    site: Site,
    days: list[dt.date],
    chairs: list[Chair],
    sessions: list[Session],
    opening_hours: dict[int, tuple[dt.time, dt.time]],
    closures: set[dt.date],
    step: int,
) -> Grid:
    tz = site.tzinfo
    hours = [opening_hours[d.weekday()] for d in days if d.weekday() in opening_hours] or [
        (DEFAULT_OPEN, DEFAULT_CLOSE)
    ]
    first = min(_minutes(h[0]) for h in hours)
    last = max(_minutes(h[1]) for h in hours)
    # Sessions booked outside today's hours (before an hours change) still show.
    for s in sessions:
        local_start, local_end = s.start.astimezone(tz), s.planned_end.astimezone(tz)
        first = min(first, _minutes(local_start.time()))
        last = max(last, _minutes(local_end.time()) if local_end.date() == local_start.date() else 24 * 60)
    first = first // step * step
    nrows = math.ceil((last - first) / step)
    columns = [
        Column(day=d, chair=c, closed=d in closures or d.weekday() not in opening_hours) for d in days for c in chairs
    ]
    index = {(col.day, col.chair.pk): i for i, col in enumerate(columns)}
    table: list[list[Cell | None]] = []
    for r in range(nrows):
        row_min = first + r * step
        cells = []
        for col in columns:
            oh = opening_hours.get(col.day.weekday())
            open_now = not col.closed and oh and _minutes(oh[0]) <= row_min < _minutes(oh[1])
            cells.append(Cell("free" if open_now else "closed"))
        table.append(cells)
    busy_until = [0] * len(columns)
    off_grid = []
    for s in sorted(sessions, key=lambda s: s.start):
        if s.status == SessionStatus.CANCELLED:
            continue
        local_start, local_end = s.start.astimezone(tz), s.planned_end.astimezone(tz)
        c = index.get((local_start.date(), s.chair_id))
        if c is None:
            off_grid.append(s)
            continue
        end_min = _minutes(local_end.time()) if local_end.date() == local_start.date() else 24 * 60
        start_row = max((_minutes(local_start.time()) - first) // step, busy_until[c])
        end_row = min(math.ceil((end_min - first) / step), nrows)
        if start_row >= end_row:
            off_grid.append(s)
            continue
        table[start_row][c] = Cell("session", session=s, span=end_row - start_row)
        for r in range(start_row + 1, end_row):
            table[r][c] = None
        busy_until[c] = end_row
    rows = []
    for r, cells in enumerate(table):
        m = first + r * step
        rows.append((f"{m // 60:02d}:{m % 60:02d}", cells))
    return Grid(columns=columns, rows=rows, step=step, off_grid=off_grid)


def _sessions_between(site: Site, start: dt.date, end: dt.date) -> QuerySet[Session]:
    tz = site.tzinfo
    lo = dt.datetime.combine(start, dt.time(0), tzinfo=tz)
    hi = dt.datetime.combine(end, dt.time(0), tzinfo=tz)
    return (
        Session.objects.filter(chair__site=site, start__gte=lo, start__lt=hi)
        .select_related("patient", "chair__site", "transport")
        .order_by("start")
    )


def schedule_grid(*, site: Site, first_day: dt.date, days: int, step: int) -> tuple[Grid, list[Session]]:
    """The grid for ``days`` days from ``first_day`` and the cancelled sessions beside it.
    Queries: chairs, opening hours, closures, sessions (4, whatever the number of sessions)."""
    day_list = [first_day + dt.timedelta(days=i) for i in range(days)]
    chairs = list(Chair.objects.filter(site=site, active=True).order_by("name"))
    opening = {h.weekday: (h.opens, h.closes) for h in OpeningHours.objects.filter(site=site)}
    closures = set(
        Closure.objects.filter(site=site, date__gte=day_list[0], date__lte=day_list[-1]).values_list("date", flat=True)
    )
    sessions = list(_sessions_between(site, day_list[0], day_list[-1] + dt.timedelta(days=1)))
    grid = build_grid(
        site=site,
        days=day_list,
        chairs=chairs,
        sessions=sessions,
        opening_hours=opening,
        closures=closures,
        step=step,
    )
    cancelled = [s for s in sessions if s.status == SessionStatus.CANCELLED]
    return grid, cancelled


def rides_unconfirmed(*, site: Site | None, hours: int = 48) -> QuerySet[Session]:
    """Sessions in the next ``hours`` hours whose ride home is missing or not confirmed."""
    now = timezone.now()
    qs = Session.objects.filter(
        start__gte=now,
        start__lt=now + dt.timedelta(hours=hours),
        status__in=[SessionStatus.BOOKED, SessionStatus.CHECKED_IN],
    ).filter(Q(transport__isnull=True) | Q(transport__status=TransportArrangement.Status.UNCONFIRMED))
    if site is not None:
        qs = qs.filter(chair__site=site)
    return qs.select_related("patient", "chair__site", "transport").order_by("start")


def course_timeline(course: Course) -> list[Session]:
    return list(
        course.sessions.select_related("chair__site", "transport", "replaces__chair__site").order_by("start", "pk")
    )


def session_for_page(pk) -> QuerySet[Session]:
    return Session.objects.select_related(
        "patient", "chair__site", "course__protocol", "transport", "transport__confirmed_by", "replaces__chair__site"
    ).filter(pk=pk)
