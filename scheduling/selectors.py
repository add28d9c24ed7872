"""Reads for the schedule pages. Each page loads a fixed number of queries, however many
sessions there are: one per table, sessions with their patient, chair and ride joined."""

import datetime as dt
import html
import math
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.safestring import SafeString, mark_safe

from clinic.models import Chair, Closure, OpeningHours, Site
from clinic.selectors import all_sites, cached_per_generation, site_with_id, url_for_pk

from .models import Course, ScheduleGeneration, Session, SessionStatus, TransportArrangement

DEFAULT_OPEN, DEFAULT_CLOSE = dt.time(8), dt.time(18)


@dataclass
class Block:
    """What the grid and the lists beside it show of one session, worked out once in Python
    so the template only prints strings."""

    pk: int
    url: str
    status: str
    status_display: str
    time: str  # "H:i", local to the site
    day_time: str  # "D H:i"
    when: str  # "D j M H:i"
    full_name: str
    initials: str
    chair_name: str
    cancel_reason: str
    ride_unconfirmed: bool


@dataclass
class Column:
    day: dt.date
    chair: "ChairRow"
    closed: bool = False
    label: str = ""  # the chair's name as the column heading shows it


@dataclass(slots=True)
class ChairRow:
    """An active chair as the grid uses it (a week shows each chair seven times)."""

    pk: int
    name: str


@dataclass
class DayHead:
    """A day's heading above its chairs in the week grid."""

    url: str
    label: str
    today: bool


@dataclass
class Grid:
    """Chairs (per day) as columns, time as rows. ``rows[i]`` is (label, the row's cells as
    HTML): a cell is "" where a session block above it spans that row. The week has some
    1,700 cells and 84 column headings, too many to print one by one in the template
    language: ``head_html`` and ``body_html`` are what goes inside <thead> and <tbody>."""

    columns: list[Column]
    rows: list[tuple[str, list[str]]]
    step: int
    off_grid: list[Block] = field(default_factory=list)
    day_heads: list[DayHead] = field(default_factory=list)
    head_html: SafeString = field(default_factory=SafeString)
    body_html: SafeString = field(default_factory=SafeString)


# The cells exactly as templates/scheduling/_grid.html printed them cell by cell.
_FREE_TD = "<td></td>"
_CLOSED_TD = '<td class="schedule-closed"></td>\n      '
_RIDE_FLAG = ' · <span class="flag flag-warning">ride?</span>'
_ROW = '\n    <tr>\n      <th scope="row" class="schedule-time small text-muted">{}</th>\n      {}\n    </tr>\n    '
_CHAIR_TH = '<th scope="col" class="text-center small schedule-chair{}" title="{}">{}</th>'
_DAY_TH = '<th scope="colgroup" colspan="{}" class="text-center{}"><a href="{}">{}</a></th>'


def grid_head(columns: list[Column], day_heads: list[DayHead], chairs_per_day: int) -> SafeString:
    """The header rows: a heading per chair and day, under a heading per day in the week."""
    chair_th = {}
    cols = []
    for col in columns:
        key = (col.chair.pk, col.closed)
        th = chair_th.get(key)
        if th is None:
            th = chair_th[key] = _CHAIR_TH.format(
                " schedule-closed" if col.closed else "", html.escape(col.chair.name), html.escape(col.label)
            )
        cols.append(th)
    if day_heads:
        heads = "".join(
            _DAY_TH.format(
                chairs_per_day, " schedule-today" if d.today else "", html.escape(d.url), html.escape(d.label)
            )
            for d in day_heads
        )
        text = (
            '\n    <tr>\n      <th scope="col" class="schedule-time" rowspan="2">Time</th>\n      '
            f"{heads}\n    </tr>\n    \n    <tr>\n      \n      {''.join(cols)}\n    </tr>"
        )
    else:
        text = f'\n    <tr>\n      <th scope="col" class="schedule-time">Time</th>\n      {"".join(cols)}\n    </tr>'
    return mark_safe(text)  # noqa: S308 - every value escaped above


def site_choice(site_id) -> Site | None:
    """The site asked for, else the first site by name with an active chair, else the first."""
    sites = all_sites()
    if found := site_with_id(sites, site_id):
        return found
    with_chairs = set(Chair.objects.filter(active=True).values_list("site_id", flat=True).distinct())
    return next((site for site in sites if site.pk in with_chairs), sites[0] if sites else None)


def _minutes(t: dt.time) -> int:
    return t.hour * 60 + t.minute


_STATUS_LABELS = dict(SessionStatus.choices)


@dataclass(slots=True)
class SessionRow:
    """The columns of a session the grid and its Blocks use, read as plain values (no model
    instances: a busy week has some 300 sessions)."""

    pk: int
    start: dt.datetime
    planned_end: dt.datetime
    status: str
    chair_id: int
    chair_name: str
    first_name: str
    last_name: str
    cancel_reason: str
    transport_status: str | None  # None: no ride arranged


class _Blocks:
    """Makes Blocks, and the grid's session cells, for the sessions of one site: local times
    and day names are worked out once per day, the session URL pattern once per request, and
    each status and chair name escaped once."""

    def __init__(self, tz):
        self.tz = tz
        self.url = url_for_pk("scheduling:session-detail", escaped=False)
        self.url_escaped = url_for_pk("scheduling:session-detail")
        self.days: dict[dt.date, tuple[str, str]] = {}
        self.days_escaped: dict[dt.date, tuple[str, str]] = {}
        self.statuses: dict[str, tuple[str, str, str]] = {}
        self.chairs_escaped: dict[int, str] = {}
        self.made: dict[int, Block] = {}

    def day_names(self, day: dt.date) -> tuple[str, str]:
        """("D", "D j M") of ``day``."""
        names = self.days.get(day)
        if names is None:
            names = self.days[day] = (dateformat.format(day, "D"), dateformat.format(day, "D j M"))
        return names

    def _status(self, status: str) -> tuple[str, str, str]:
        """The status's label, the status escaped and the label escaped."""
        found = self.statuses.get(status)
        if found is None:
            label = str(_STATUS_LABELS.get(status, status))
            found = self.statuses[status] = (label, html.escape(status), html.escape(label))
        return found

    def __call__(self, s: SessionRow, local_start: dt.datetime | None = None) -> Block:
        block = self.made.get(s.pk)
        if block is not None:
            return block
        local = local_start or s.start.astimezone(self.tz)
        short_day, long_day = self.day_names(local.date())
        hm = f"{local.hour:02d}:{local.minute:02d}"
        block = self.made[s.pk] = Block(
            pk=s.pk,
            url=self.url(s.pk),
            status=s.status,
            status_display=self._status(s.status)[0],
            time=hm,
            day_time=f"{short_day} {hm}",
            when=f"{long_day} {hm}",
            full_name=f"{s.first_name} {s.last_name}",
            initials=s.first_name[:1] + s.last_name[:1],
            chair_name=s.chair_name,
            cancel_reason=s.cancel_reason,
            ride_unconfirmed=s.transport_status == TransportArrangement.Status.UNCONFIRMED,
        )
        return block

    def td(self, s: SessionRow, local_start: dt.datetime, span: int, *, week: bool) -> str:
        """A session's block in the grid (``week``: initials only, the rest for screen
        readers), every value escaped."""
        _, status, status_display = self._status(s.status)
        chair = self.chairs_escaped.get(s.chair_id)
        if chair is None:
            chair = self.chairs_escaped[s.chair_id] = html.escape(s.chair_name)
        hm = f"{local_start.hour:02d}:{local_start.minute:02d}"
        full_name = f"{html.escape(s.first_name)} {html.escape(s.last_name)}"
        head = (
            f'\n      <td rowspan="{span}" class="schedule-slot p-0">\n'
            f'        <a class="schedule-block status-{status}" href="{self.url_escaped(s.pk)}"\n'
            f'           title="{hm} {full_name}, {chair}, {status_display}">\n          '
        )
        if week:
            day = local_start.date()
            long_day = self.days_escaped.get(day)
            if long_day is None:
                long_day = self.days_escaped[day] = html.escape(self.day_names(day)[1])
            inner = (
                f'<span class="schedule-initials" aria-hidden="true">'
                f"{html.escape(s.first_name[:1] + s.last_name[:1])}</span>"
                f'<span class="visually-hidden">{long_day} {hm} {full_name}, {chair}, '
                f"{status_display}</span>\n          "
            )
        else:
            ride = _RIDE_FLAG if s.transport_status == TransportArrangement.Status.UNCONFIRMED else ""
            inner = (
                f'<strong>{hm}</strong> {full_name}<br>\n          <span class="small">{status_display}{ride}</span>'
            )
        return head + inner + "\n        </a>\n      </td>\n      "


def build_grid(
    *,
    site: Site,
    days: list[dt.date],
    chairs: list[ChairRow],
    sessions: list[SessionRow],
    opening_hours: dict[int, tuple[dt.time, dt.time]],
    closures: set[dt.date],
    step: int,
    blocks: _Blocks | None = None,
    day_heads: list[DayHead] | None = None,
) -> Grid:
    tz = site.tzinfo
    blocks = blocks or _Blocks(tz)
    week = len(days) > 1
    hours = [opening_hours[d.weekday()] for d in days if d.weekday() in opening_hours] or [
        (DEFAULT_OPEN, DEFAULT_CLOSE)
    ]
    first = min(_minutes(h[0]) for h in hours)
    last = max(_minutes(h[1]) for h in hours)
    # Each session's local start and end, converted once.
    local = {s.pk: (s.start.astimezone(tz), s.planned_end.astimezone(tz)) for s in sessions}
    # Sessions booked outside today's hours (before an hours change) still show.
    for local_start, local_end in local.values():
        first = min(first, _minutes(local_start.time()))
        last = max(last, _minutes(local_end.time()) if local_end.date() == local_start.date() else 24 * 60)
    first = first // step * step
    nrows = math.ceil((last - first) / step)
    columns = [
        Column(
            day=d,
            chair=c,
            closed=d in closures or d.weekday() not in opening_hours,
            label=c.name.replace("Chair ", "") if week else c.name,
        )
        for d in days
        for c in chairs
    ]
    index = {(col.day, col.chair.pk): i for i, col in enumerate(columns)}
    # Minutes each column is open, as [opens, closes); None when closed all day.
    open_span = []
    for col in columns:
        oh = opening_hours.get(col.day.weekday())
        open_span.append(None if col.closed or not oh else (_minutes(oh[0]), _minutes(oh[1])))
    # Neighbouring columns open the same minutes (a day's chairs): one test per run of them.
    runs: list[list] = []
    for span in open_span:
        if runs and runs[-1][0] == span:
            runs[-1][1] += 1
        else:
            runs.append([span, 1])
    table: list[list[str]] = []
    for r in range(nrows):
        row_min = first + r * step
        cells = []
        for span, count in runs:
            cells += [_FREE_TD if span and span[0] <= row_min < span[1] else _CLOSED_TD] * count
        table.append(cells)
    busy_until = [0] * len(columns)
    off_grid = []
    for s in sorted(sessions, key=lambda s: s.start):
        if s.status == SessionStatus.CANCELLED:
            continue
        local_start, local_end = local[s.pk]
        c = index.get((local_start.date(), s.chair_id))
        if c is None:
            off_grid.append(blocks(s, local_start))
            continue
        end_min = _minutes(local_end.time()) if local_end.date() == local_start.date() else 24 * 60
        start_row = max((_minutes(local_start.time()) - first) // step, busy_until[c])
        end_row = min(math.ceil((end_min - first) / step), nrows)
        if start_row >= end_row:
            off_grid.append(blocks(s, local_start))
            continue
        table[start_row][c] = blocks.td(s, local_start, end_row - start_row, week=week)
        for r in range(start_row + 1, end_row):
            table[r][c] = ""
        busy_until[c] = end_row
    rows = []
    for r, cells in enumerate(table):
        m = first + r * step
        rows.append((f"{m // 60:02d}:{m % 60:02d}", cells))
    day_heads = day_heads or []
    return Grid(
        columns=columns,
        rows=rows,
        step=step,
        off_grid=off_grid,
        day_heads=day_heads,
        head_html=grid_head(columns, day_heads, len(chairs)),
        # Row labels are "HH:MM"; every value in a cell was escaped when the cell was made.
        body_html=mark_safe("".join(_ROW.format(label, "".join(cells)) for label, cells in rows)),  # noqa: S308
    )


def _sessions_between(site: Site, start: dt.date, end: dt.date) -> list[SessionRow]:
    tz = site.tzinfo
    lo = dt.datetime.combine(start, dt.time(0), tzinfo=tz)
    hi = dt.datetime.combine(end, dt.time(0), tzinfo=tz)
    rows = (
        Session.objects.filter(chair__site=site, start__gte=lo, start__lt=hi)
        .order_by("start")
        .values_list(
            "pk",
            "start",
            "planned_end",
            "status",
            "chair_id",
            "chair__name",
            "patient__first_name",
            "patient__last_name",
            "cancel_reason",
            "transport__status",
        )
    )
    return [SessionRow(*row) for row in rows]


def schedule_grid(
    *, site: Site, first_day: dt.date, days: int, step: int, today: dt.date | None = None
) -> tuple[Grid, list[Block]]:
    """The grid for ``days`` days from ``first_day`` and the cancelled sessions beside it; a
    grid of more than one day has a heading per day, linking to that day's page. Queries:
    chairs, opening hours, closures, sessions (4, whatever the number of sessions)."""
    day_list = [first_day + dt.timedelta(days=i) for i in range(days)]
    chairs = [
        ChairRow(*row)
        for row in Chair.objects.filter(site=site, active=True).order_by("name").values_list("pk", "name")
    ]
    opening = {
        weekday: (opens, closes)
        for weekday, opens, closes in OpeningHours.objects.filter(site=site)
        .order_by()
        .values_list("weekday", "opens", "closes")
    }
    closures = set(
        Closure.objects.filter(site=site, date__gte=day_list[0], date__lte=day_list[-1])
        .order_by()
        .values_list("date", flat=True)
    )
    sessions = _sessions_between(site, day_list[0], day_list[-1] + dt.timedelta(days=1))
    blocks = _Blocks(site.tzinfo)
    day_heads = []
    if days > 1:
        day_url = reverse("scheduling:day")
        day_heads = [
            DayHead(
                url=f"{day_url}?date={d.isoformat()}&site={site.pk}", label=blocks.day_names(d)[1], today=d == today
            )
            for d in day_list
        ]
    grid = build_grid(
        site=site,
        days=day_list,
        chairs=chairs,
        sessions=sessions,
        opening_hours=opening,
        closures=closures,
        step=step,
        blocks=blocks,
        day_heads=day_heads,
    )
    cancelled = [blocks(s) for s in sessions if s.status == SessionStatus.CANCELLED]
    return grid, cancelled


@dataclass
class SchedulePage:
    """What the day and week pages print of a grid and of the sessions beside it."""

    head_html: SafeString
    body_html: SafeString
    chairs: int  # active chairs: the week grid has this many columns per day
    extras_html: SafeString  # the off-grid bookings and the cancelled sessions, as the page prints them


def schedule_page(
    *, site: Site, first_day: dt.date, days: int, step: int, today: dt.date | None = None
) -> SchedulePage:
    """The day or week page's grid, kept under the site's schedule generation (migration 0006):
    a busy week is some 300 sessions and 1,700 cells, and most requests for it come between
    two changes."""
    return cached_per_generation(
        ScheduleGeneration,
        site,
        f"schedule-page:{site.time_zone}:{first_day}:{days}:{step}:{today}",
        lambda: _schedule_page(site=site, first_day=first_day, days=days, step=step, today=today),
    )


def _schedule_page(*, site: Site, first_day: dt.date, days: int, step: int, today: dt.date | None) -> SchedulePage:
    grid, cancelled = schedule_grid(site=site, first_day=first_day, days=days, step=step, today=today)
    return SchedulePage(
        head_html=grid.head_html,
        body_html=grid.body_html,
        chairs=len(grid.columns) // days,
        extras_html=render_to_string(
            "scheduling/_grid_extras.html", {"off_grid": grid.off_grid, "cancelled": cancelled}
        ),
    )


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
