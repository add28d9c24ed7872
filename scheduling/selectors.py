"""Reads for the schedule pages. Each page loads a fixed number of queries, however many
sessions there are: one per table, sessions with their patient, chair and ride joined."""

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import NamedTuple

from django.db.models import Max, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.urls import reverse
from django.utils import timezone

from clinic.formats import when
from clinic.jinja2 import choice_labels, url_with_pk
from clinic.models import Chair, Closure, OpeningHours, Site
from clinic.selectors import all_sites, site_with_id

from . import rules, rules_review
from .links import confirm_token_session_id
from .models import Course, CourseReviewFlag, ProtocolPhase, Session, SessionStatus, TransportArrangement

DEFAULT_OPEN, DEFAULT_CLOSE = dt.time(8), dt.time(18)


@dataclass
class Block:
    """What the grid and the lists beside it show of one session, worked out once in Python
    (local times, day names, the page address) so the templates only print values."""

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


@dataclass(slots=True)
class ChairRow:
    """An active chair as the grid uses it (a week shows each chair seven times)."""

    pk: int
    name: str


@dataclass
class Column:
    day: dt.date
    chair: ChairRow
    closed: bool = False
    label: str = ""  # the chair's name as the column heading shows it


@dataclass
class DayHead:
    """A day's heading above its chairs in the week grid."""

    url: str
    label: str
    today: bool


class Cell(NamedTuple):
    """One cell of the grid: a session's block spanning ``span`` rows, or an empty slot (open or
    closed). A row leaves out the cells a block above it spans."""

    block: Block | None = None
    span: int = 1
    closed: bool = False


FREE = Cell()
CLOSED = Cell(closed=True)


@dataclass
class Grid:
    """Chairs (per day) as columns, time as rows: ``rows[i]`` is ("HH:MM", the row's cells)."""

    columns: list[Column]
    rows: list[tuple[str, list[Cell]]]
    step: int
    week: bool = False
    chairs_per_day: int = 0
    off_grid: list[Block] = field(default_factory=list)
    day_heads: list[DayHead] = field(default_factory=list)


def site_choice(site_id) -> Site | None:
    """The site asked for, else the first site by name with an active chair, else the first."""
    sites = all_sites()
    if found := site_with_id(sites, site_id):
        return found
    with_chairs = set(Chair.objects.filter(active=True).values_list("site_id", flat=True).distinct())
    return next((site for site in sites if site.pk in with_chairs), sites[0] if sites else None)


def _minutes(t: dt.time) -> int:
    return t.hour * 60 + t.minute


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
    """Makes the Blocks of one site's sessions: local times and day names are worked out once
    per day, the session page's address pattern and the statuses' names once per request."""

    def __init__(self, tz):
        self.tz = tz
        self.url = url_with_pk("scheduling:session-detail")
        self.status_names = choice_labels(SessionStatus.choices)
        self.days: dict[dt.date, tuple[str, str]] = {}
        self.times: dict[tuple[int, int], str] = {}
        self.made: dict[int, Block] = {}

    def day_names(self, day: dt.date) -> tuple[str, str]:
        """("Thu", "Thu 3 Dec") of ``day``."""
        names = self.days.get(day)
        if names is None:
            names = self.days[day] = (when(day, "weekday_short"), when(day, "day"))
        return names

    def time_name(self, hour: int, minute: int) -> str:
        """The clinic's clock's "14:05" or "2:05 PM", worked out once per time of a page."""
        name = self.times.get((hour, minute))
        if name is None:
            name = self.times[hour, minute] = when(dt.time(hour, minute), "time")
        return name

    def __call__(self, s: SessionRow, local_start: dt.datetime | None = None) -> Block:
        block = self.made.get(s.pk)
        if block is not None:
            return block
        local = local_start or s.start.astimezone(self.tz)
        short_day, long_day = self.day_names(local.date())
        hm = self.time_name(local.hour, local.minute)
        block = self.made[s.pk] = Block(
            pk=s.pk,
            url=self.url(s.pk),
            status=s.status,
            status_display=self.status_names.get(s.status, s.status),
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
    table: list[list[Cell | None]] = []
    for r in range(nrows):
        row_min = first + r * step
        cells: list[Cell | None] = []
        for span, count in runs:
            cells += [FREE if span and span[0] <= row_min < span[1] else CLOSED] * count
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
        table[start_row][c] = Cell(block=blocks(s, local_start), span=end_row - start_row)
        for r in range(start_row + 1, end_row):
            table[r][c] = None  # under the block above
        busy_until[c] = end_row
    rows = []
    for r, cells in enumerate(table):
        m = first + r * step
        rows.append((blocks.time_name(m // 60 % 24, m % 60), [cell for cell in cells if cell is not None]))
    return Grid(
        columns=columns,
        rows=rows,
        step=step,
        week=week,
        chairs_per_day=len(chairs),
        off_grid=off_grid,
        day_heads=day_heads or [],
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


def confirm_session_for_token(token: str, *, now: dt.datetime | None = None) -> tuple[Session | None, str]:
    """The session a confirmation link may act on, or (None, why-not). Links work while the
    session is booked and has not started; tampered tokens name no session at all."""
    session_id = confirm_token_session_id(token)
    if session_id is None:
        return None, "invalid"
    session = Session.objects.select_related("chair__site", "patient").filter(pk=session_id).first()
    if session is None:
        return None, "invalid"
    if session.status in (SessionStatus.CANCELLED, SessionStatus.NO_SHOW):
        return None, "cancelled"
    if session.status != SessionStatus.BOOKED or session.start <= (now or timezone.now()):
        return None, "expired"
    return session, ""


# How many sessions the patient's page lists ahead and behind.
PATIENT_PAGE_SESSIONS = 5


@dataclass
class PatientCourses:
    """The patient's page's view of their courses: the active ones, with the next and the last
    sessions of those, and the courses that ended."""

    active: list[Course]
    ended: list[Course]
    upcoming: list[Session]
    past: list[Session]


def patient_courses(patient, *, now: dt.datetime | None = None) -> PatientCourses:
    """Three queries whatever the number of courses and sessions."""
    now = now or timezone.now()
    courses = list(
        patient.courses.select_related("protocol")
        .only("patient", "drug", "start_date", "status", "review_phase_order", "protocol__name")
        .order_by("-start_date", "-pk")[:20]
    )
    active = [c for c in courses if c.status == Course.Status.ACTIVE]
    # Only what the patient page shows of a session (templates/scheduling/_patient_courses.html).
    sessions = (
        Session.objects.filter(course__in=[c.pk for c in active])
        .select_related("chair__site")
        .only("sequence", "start", "status", "chair__name", "chair__site__time_zone")
    )
    upcoming = sessions.filter(start__gte=now).exclude(status=SessionStatus.CANCELLED).order_by("start")
    past = sessions.filter(start__lt=now).order_by("-start")
    return PatientCourses(
        active=active,
        ended=[c for c in courses if c.status != Course.Status.ACTIVE][:PATIENT_PAGE_SESSIONS],
        upcoming=list(upcoming[:PATIENT_PAGE_SESSIONS]) if active else [],
        past=list(past[:PATIENT_PAGE_SESSIONS]) if active else [],
    )


# --- Free slots for a move ----------------------------------------------------------------

SLOT_STEP_MINUTES = 15


@dataclass(frozen=True)
class FreeSlot:
    """A day, time and chair where a session could go, in the site's local time."""

    date: dt.date
    time: dt.time
    chair_id: int
    chair_name: str

    @property
    def label(self) -> str:
        return f"{when(self.date, 'day')} {when(self.time, 'time')} · {self.chair_name}"


def free_slots(
    *,
    site: Site,
    patient,
    around: dt.datetime,
    minutes: int,
    min_days_between: int,
    exclude_pks: tuple[int, ...] = (),
    days: int = 7,
    count: int = 6,
    per_day: int = 2,
    now: dt.datetime | None = None,
) -> list[FreeSlot]:
    """The free slots nearest to ``around`` (the nearest day first, then the nearest time),
    at most ``per_day`` a day and ``count`` in all, up to ``days`` days either side: open, in
    opening hours, a chair free for the whole session, the patient free and no dose of theirs
    closer than ``min_days_between`` days (sessions in ``exclude_pks`` are the ones moving).
    Four queries whatever the size of the schedule."""
    tz = site.tzinfo
    now = now or timezone.now()
    local = around.astimezone(tz)
    today = now.astimezone(tz).date()
    first, last = local.date() - dt.timedelta(days=days), local.date() + dt.timedelta(days=days)
    hours = {h.weekday: (h.opens, h.closes) for h in OpeningHours.objects.filter(site=site)}
    closed = set(Closure.objects.filter(site=site, date__gte=first, date__lte=last).values_list("date", flat=True))
    chairs = list(Chair.objects.filter(site=site, active=True).order_by("name"))
    margin = dt.timedelta(days=max(min_days_between, 1) + 1)
    window_start = dt.datetime.combine(first, dt.time(0), tzinfo=tz) - margin
    window_end = dt.datetime.combine(last, dt.time(0), tzinfo=tz) + margin + dt.timedelta(days=1)
    live = (
        Session.objects.exclude(status=SessionStatus.CANCELLED)
        .exclude(pk__in=exclude_pks)
        .filter(start__lt=window_end, planned_end__gt=window_start)
        .filter(Q(chair__in=chairs) | Q(patient=patient))
        .values_list("chair_id", "patient_id", "start", "planned_end", "status")
    )
    taken: dict[int, list[tuple[dt.datetime, dt.datetime]]] = {}
    patient_busy, dose_days = [], []
    for chair_id, patient_id, start, end, status in live:
        taken.setdefault(chair_id, []).append((start, end))
        if patient_id == patient.pk:
            patient_busy.append((start, end))
            if status != SessionStatus.NO_SHOW:
                dose_days.append(start.astimezone(tz).date())
    wanted = local.hour * 60 + local.minute
    order = sorted(range(-days, days + 1), key=lambda d: (abs(d), d < 0))
    found: list[FreeSlot] = []
    for offset in order:
        day = local.date() + dt.timedelta(days=offset)
        if day < today or not rules.bookable_day(day, today) or day in closed or day.weekday() not in hours:
            continue
        if any(abs((day - other).days) < min_days_between for other in dose_days):
            continue
        opens, closes = hours[day.weekday()]
        times = range(opens.hour * 60 + opens.minute, closes.hour * 60 + closes.minute, SLOT_STEP_MINUTES)
        on_day = 0
        for start_minutes in sorted(times, key=lambda m: (abs(m - wanted), m)):
            at = dt.time(start_minutes // 60, start_minutes % 60)
            if not rules.time_exists(day, at, tz):
                continue
            start = rules.local_datetime(day, at, tz)
            end = rules.session_end(start, minutes)
            if start <= now or rules.opening_problem(start, end, opening_hours=hours, closures=closed, tz=tz):
                continue
            if any(rules.overlaps(start, end, s, e) for s, e in patient_busy):
                continue
            chair = next(
                (c for c in chairs if not any(rules.overlaps(start, end, s, e) for s, e in taken.get(c.pk, ()))),
                None,
            )
            if chair is None:
                continue
            found.append(FreeSlot(date=day, time=at, chair_id=chair.pk, chair_name=chair.name))
            on_day += 1
            if len(found) >= count:
                return found
            if on_day >= per_day:
                break
    return found


def _open_flags() -> QuerySet[CourseReviewFlag]:
    return CourseReviewFlag.objects.filter(review__isnull=True, cleared_at__isnull=True)


def reviews_pending() -> list[Course]:
    """Active courses waiting for a prescriber's review: flagged while running (a worsening
    score...), the oldest flag first, then those paused at a phase's end, the longest waiting
    first. Each has ``last_session`` (its last session still counted), ``phase_name`` (the
    phase it is paused after, if any) and ``open_flags`` (who/what/when). Three queries."""
    phase = ProtocolPhase.objects.filter(protocol=OuterRef("protocol"), order=OuterRef("review_phase_order"))
    flags = Prefetch(
        "review_flags", _open_flags().select_related("raised_by", "session__chair__site"), to_attr="open_flags"
    )
    courses = list(
        Course.objects.filter(status=Course.Status.ACTIVE)
        .filter(Q(review_phase_order__isnull=False) | Q(pk__in=_open_flags().values("course_id")))
        .select_related("patient", "protocol", "site")
        .annotate(
            last_session=Max("sessions__start", filter=~Q(sessions__status=SessionStatus.CANCELLED)),
            phase_name=Subquery(phase.values("name")[:1]),
        )
        .prefetch_related(flags)
        .order_by("last_session", "pk")
    )
    flagged = sorted((c for c in courses if c.open_flags), key=lambda c: (c.open_flags[0].raised_at, c.pk))
    return flagged + [c for c in courses if not c.open_flags]


@dataclass
class ReviewPosition:
    """Where a course waiting for a review stands: the protocol's phases, the one under review
    (``index``: the phase it is paused after, or the one a running course is in now), whether
    it is paused, and the open flags that put it on the worklist."""

    phases: list[ProtocolPhase]
    index: int | None
    paused: bool
    flags: list[CourseReviewFlag]

    @property
    def current(self) -> ProtocolPhase | None:
        return self.phases[self.index] if self.index is not None else None

    def decisions(self) -> list[tuple[str, str]]:
        return rules_review.allowed_decisions(index=self.index, count=len(self.phases), paused=self.paused)


def review_position(course: Course, *, now: dt.datetime | None = None) -> ReviewPosition | None:
    """The course's review position, or None when it waits for no review (three queries at
    most: phases, open flags, and a running course's sessions)."""
    flags = list(_open_flags().filter(course=course).select_related("raised_by", "session__chair__site"))
    paused = course.review_phase_order is not None
    if not paused and not flags:
        return None
    phases = list(course.protocol.phases.order_by("order"))
    if paused:
        index = next((i for i, p in enumerate(phases) if p.order == course.review_phase_order), None)
    else:
        sessions = course.sessions.exclude(status__in=[SessionStatus.CANCELLED, SessionStatus.NO_SHOW])
        index = rules_review.current_phase_index(
            [p.name for p in phases], list(sessions.values_list("start", "phase_name")), now or timezone.now()
        )
    return ReviewPosition(phases=phases, index=index, paused=paused, flags=flags)
