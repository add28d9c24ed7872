"""Compliance report for administrators: one site, one date range (the site's local days,
both inclusive). Each section is a ``Table`` (what the page and its CSV show) with a bar
chart drawn server-side as SVG geometry (no script, no inline style)."""

import dataclasses
import datetime as dt
import hashlib
import statistics
from collections import Counter
from functools import cached_property
from urllib.parse import urlencode

from django.core.cache import cache
from django.db.models import Count
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator

from clinic.selectors import escaped, printed
from scheduling.models import Drug, SessionStatus

from . import report_days, rules, selectors_reports
from .models import AdverseEvent, PrescriberOverride, ReadingKind, stored_thresholds

CHART_WIDTH = 560
BAR_HEIGHT = 22
LABEL_WIDTH = 170


@dataclasses.dataclass
class Bar:
    label: str
    value: float
    y: int
    width: float
    text_x: float


@dataclasses.dataclass
class Chart:
    bars: list[Bar]
    height: int
    unit: str = ""


@dataclasses.dataclass
class Table:
    slug: str
    title: str
    columns: list[str]
    rows: list[list]
    chart: Chart | None = None
    note: str = ""

    @cached_property
    def body_html(self) -> SafeString:
        """The rows as escaped HTML, each value shown as the template would show it (localized);
        printing them value by value in the template was most of the page's rendering time."""
        rows = ("".join(f"<td>{printed(value)}</td>" for value in row) for row in self.rows)
        return mark_safe("".join(f"<tr>{cells}</tr>" for cells in rows))  # noqa: S308 - every value escaped

    @cached_property
    def chart_svg(self) -> str:
        return bar_chart_svg(self.chart, self.title) if self.chart else ""


def bar_chart(pairs: list[tuple[str, float]], unit: str = "") -> Chart | None:
    """Horizontal bars scaled to the largest value."""
    if not pairs:
        return None
    top = max((value for _, value in pairs), default=0) or 1
    span = CHART_WIDTH - LABEL_WIDTH - 60
    bars = []
    for i, (label, value) in enumerate(pairs):
        width = round(value / top * span, 1)
        bars.append(Bar(str(label), value, 6 + i * (BAR_HEIGHT + 6), width, LABEL_WIDTH + width + 6))
    return Chart(bars, 12 + len(pairs) * (BAR_HEIGHT + 6), unit)


def _short(label: str) -> str:
    """The label cut to 26 characters with an ellipsis; a shorter one as it is."""
    return label if len(label) <= 26 else Truncator(label).chars(26)


def bar_chart_svg(chart: Chart, title: str) -> SafeString:
    """The chart as escaped inline SVG (no script, no inline style). Built here rather than by
    a template: its bars were most of the page's rendering time."""
    unit = escaped(chart.unit)
    bars = "\n".join(
        f'<text x="{LABEL_WIDTH - 6}" y="{bar.y + 16}" text-anchor="end" font-size="12" fill="#212529">'
        f"{escaped(_short(bar.label))}<title>{escaped(bar.label)}</title></text>\n"
        f'<rect x="{LABEL_WIDTH}" y="{bar.y}" width="{escaped(bar.width)}" height="{BAR_HEIGHT}" fill="#0d6efd" rx="2">'
        f"<title>{escaped(bar.label)}: {escaped(bar.value)} {unit}</title></rect>\n"
        f'<text x="{escaped(bar.text_x)}" y="{bar.y + 16}" font-size="12" fill="#212529">{escaped(bar.value)}</text>'
        for bar in chart.bars
    )
    return mark_safe(  # noqa: S308 - every value escaped above
        f'<svg class="report-chart" role="img" aria-label="{escaped(title)} chart" width="{CHART_WIDTH}" '
        f'height="{chart.height}" viewBox="0 0 {CHART_WIDTH} {chart.height}" xmlns="http://www.w3.org/2000/svg">\n'
        f"{bars}\n</svg>"
    )


def thresholds() -> rules.Thresholds:
    """The administrator's thresholds, without creating the row on a read."""
    return stored_thresholds() or rules.DEFAULTS


class Period:
    """One site's local days from ``date_from`` to ``date_to``; each read is made once, when a
    table first needs it, so one table (a CSV download) reads only what it shows and a kept
    report reads none of them."""

    def __init__(self, site, date_from: dt.date, date_to: dt.date, t: rules.Thresholds | None = None):
        self.site = site
        if t is not None:
            self.t = t
        self.date_from, self.date_to = date_from, date_to
        self.start, self.end = report_days.local_range(site, date_from, date_to)
        self.today = site.local_today()

    @cached_property
    def t(self) -> rules.Thresholds:
        return thresholds()

    @cached_property
    def days(self) -> dict[dt.date, report_days.DaySummary]:
        return report_days.period_days(self.site, self.date_from, self.date_to, now=timezone.now())

    @cached_property
    def total(self) -> report_days.DaySummary:
        total = report_days.DaySummary()
        for day in self.days.values():
            total.add(day)
        return total

    @cached_property
    def protocols(self) -> dict:
        return selectors_reports.protocols()

    def required_minutes(self, protocol: int | None) -> tuple[int, ...]:
        """The checkpoints required of a session of ``protocol`` (None: outside a course)."""
        minutes = self.protocols.get(protocol, (None, None))[0] if protocol is not None else None
        return tuple(rules.observation_checkpoint_minutes(minutes, self.t))

    def drug(self, protocol: int | None) -> str | None:
        return self.protocols.get(protocol, (None, None))[1] if protocol is not None else None

    def rems_complete(self, protocol: int | None, readings: frozenset, state: str) -> bool:
        """Whether a REMS record not yet submitted is complete: ``state`` (``report_days``) says
        every other field is, and a reading was taken at the protocol's first checkpoint."""
        return state == report_days.READY and selectors_reports.has_after_dosing_bp(
            readings, self.required_minutes(protocol)
        )

    @property
    def rems_window_first_day(self) -> dt.date:
        """The earliest treatment day whose REMS record is not overdue today:
        ``rules.rems_days_left`` is 0 on that day and negative on the days before."""
        return self.today - dt.timedelta(days=self.t.rems_window_days)


def sessions_by_week(period: Period) -> Table:
    statuses = list(SessionStatus)
    weeks: dict[dt.date, Counter] = {}
    for day, summary in period.days.items():
        for (status, _due), n in summary.statuses.items():
            weeks.setdefault(day - dt.timedelta(days=day.weekday()), Counter())[status] += n
    rows = [[week, *(by[s.value] for s in statuses), sum(by.values())] for week, by in sorted(weeks.items())]
    return Table(
        "sessions-by-week",
        "Sessions by status per week",
        ["Week of", *(s.label for s in statuses), "Total"],
        rows,
        bar_chart([(f"{row[0]:%Y-%m-%d}", row[-1]) for row in rows], "sessions"),
    )


def no_show_rate(period: Period) -> Table:
    # Only sessions whose day has come count: a booking next week cannot be a no-show yet.
    due = {status: n for (status, due), n in period.total.statuses.items() if due and status != SessionStatus.CANCELLED}
    total = sum(due.values())
    no_shows = due.get(SessionStatus.NO_SHOW.value, 0)
    rate = round(100 * no_shows / total, 1) if total else 0.0
    return Table(
        "no-show-rate",
        "No-show rate",
        ["Sessions due (not cancelled)", "No-shows", "No-show rate (%)"],
        [[total, no_shows, rate]],
        bar_chart([("Attended or in progress", total - no_shows), ("No-show", no_shows)], "sessions"),
    )


def observation_length(period: Period) -> Table:
    t = period.t
    # A session is discharged exactly when it has a discharge record (``services.discharge``
    # writes both, and a discharged session changes status no more).
    minutes = sorted(period.total.lengths.elements())
    minimum = t.observation_minimum_minutes
    under = sum(1 for m in minutes if m < minimum)
    row = [len(minutes), *([minutes[0], statistics.median(minutes), minutes[-1]] if minutes else ["", "", ""]), under]
    buckets: dict[str, int] = {}
    for m in minutes:
        low = min(int(m // 15) * 15, minimum + 60)
        label = f"{low}+ min" if low >= minimum + 60 else f"{low}-{low + 14} min"
        buckets[label] = buckets.get(label, 0) + 1
    return Table(
        "observation-length",
        "Observation length",
        ["Discharges", "Shortest (min)", "Median (min)", "Longest (min)", f"Under {minimum} minutes"],
        [row],
        bar_chart(list(buckets.items()), "discharges"),
        note=f"From the first device (or infusion start) to discharge. The count under {minimum} minutes must be 0.",
    )


def checkpoint_completeness(period: Period) -> Table:
    # Sessions alike (same checkpoints required, same readings) are judged once.
    alike: Counter = Counter()
    for (protocol, have, _rems), n in period.total.discharged.items():
        alike[(period.required_minutes(protocol), have)] += n
    complete = 0
    missing_counts: dict[str, int] = {}
    total = 0
    for (minutes, have), n in alike.items():
        total += n
        required = [
            ("Pre-dose", (ReadingKind.PRE_DOSE, None)),
            *[(f"{m}-minute check", (ReadingKind.CHECKPOINT, m)) for m in minutes],
            ("Before discharge", (ReadingKind.DISCHARGE, None)),
        ]
        missing = [label for label, key in required if key not in have]
        complete += 0 if missing else n
        for label in missing:
            missing_counts[label] = missing_counts.get(label, 0) + n
    share = round(100 * complete / total, 1) if total else 0.0
    rows = [[total, complete, share, "; ".join(f"{k}: {v}" for k, v in sorted(missing_counts.items()))]]
    return Table(
        "checkpoint-completeness",
        "Checkpoint completeness",
        ["Discharged sessions", "With every required reading", "Complete (%)", "Missing readings"],
        rows,
        bar_chart([("Complete", complete), ("Missing a reading", total - complete)], "sessions"),
        note="Required: the pre-dose reading, every checkpoint of the protocol and the before-discharge reading.",
    )


def adverse_events(period: Period) -> Table:
    site, start, end = period.site, period.start, period.end
    counts = (
        AdverseEvent.objects.filter(session__chair__site=site, session__start__gte=start, session__start__lt=end)
        .values("kind", "severity")
        .annotate(n=Count("id"))
    )
    by_kind: dict[str, dict[str, int]] = {}
    for row in counts:
        by_kind.setdefault(row["kind"], {})[row["severity"]] = row["n"]
    severities = list(AdverseEvent.Severity)
    rows = [
        [kind.label, *(by_kind.get(kind.value, {}).get(s.value, 0) for s in severities)] for kind in AdverseEvent.Kind
    ]
    for row in rows:
        row.append(sum(row[1:]))
    return Table(
        "adverse-events",
        "Adverse events by kind and severity",
        ["Kind", *(s.label for s in severities), "Total"],
        rows,
        bar_chart([(row[0], row[-1]) for row in rows], "events"),
    )


def overrides(period: Period) -> Table:
    site, start, end = period.site, period.start, period.end
    # Plain columns, not model objects: a long period can hold many overrides.
    qs = (
        PrescriberOverride.objects.filter(session__chair__site=site, session__start__gte=start, session__start__lt=end)
        .order_by("created_at", "pk")
        .values_list(
            "created_at",
            "session__patient__mrn",
            "kind",
            "blocks",
            "reason",
            "prescriber__first_name",
            "prescriber__last_name",
            "prescriber__username",
        )
    )
    kinds = dict(PrescriberOverride.Kind.choices)
    rows = [
        [
            timezone.localtime(created_at, site.tzinfo).strftime("%Y-%m-%d %H:%M"),
            mrn,
            kinds.get(kind, kind),
            "; ".join(str(b) for b in blocks) if isinstance(blocks, list) else str(blocks),
            reason,
            f"{first_name} {last_name}".strip() or username,
        ]
        for created_at, mrn, kind, blocks, reason, first_name, last_name, username in qs
    ]
    counts = {kind.label: 0 for kind in PrescriberOverride.Kind}
    for row in rows:
        counts[row[2]] += 1
    return Table(
        "overrides",
        "Overridden pre-dose blocks and discharges",
        ["When", "Patient MRN", "Override", "What was blocking", "Reason", "Prescriber"],
        rows,
        bar_chart(list(counts.items()), "overrides"),
    )


REMS_STATES = ("Submitted", "Complete, not submitted", "Incomplete", "Overdue (past the window, not submitted)")


def rems_states(period: Period) -> Table:
    other_drugs = {d.value for d in Drug if d != Drug.ESKETAMINE}
    counts = dict.fromkeys(REMS_STATES, 0)
    window_first_day = period.rems_window_first_day
    for day, summary in period.days.items():
        for (protocol, have, rems), n in summary.discharged.items():
            if period.drug(protocol) in other_drugs:
                continue
            if rems == report_days.SUBMITTED:
                state = REMS_STATES[0]
            elif day < window_first_day:
                state = REMS_STATES[3]
            elif period.rems_complete(protocol, have, rems):
                state = REMS_STATES[1]
            else:
                state = REMS_STATES[2]
            counts[state] += n
    return Table(
        "rems",
        "REMS monitoring records by state",
        ["State", "Sessions"],
        [[state, n] for state, n in counts.items()],
        bar_chart(list(counts.items()), "records"),
        note="Esketamine sessions discharged in the period.",
    )


BUILDERS = {
    "sessions-by-week": sessions_by_week,
    "no-show-rate": no_show_rate,
    "observation-length": observation_length,
    "checkpoint-completeness": checkpoint_completeness,
    "adverse-events": adverse_events,
    "overrides": overrides,
    "rems": rems_states,
}
SECTIONS = tuple(BUILDERS)
# Kept only to bound memory: a report kept under its key is never wrong for that key.
REPORT_CACHE_SECONDS = 3600


@dataclasses.dataclass
class Report:
    """Every table of the report, and the page's sections showing them."""

    tables: list[Table]
    query: str  # the site and period, as the sections' CSV links ask for them

    @cached_property
    def html(self) -> SafeString:
        return render_to_string("monitoring/_report_sections.html", {"tables": self.tables, "query": self.query})


def report_table(*, site, date_from: dt.date, date_to: dt.date, slug: str) -> Table:
    """One table of the report (its CSV download), always computed: it reads only what it shows."""
    return BUILDERS[slug](Period(site, date_from, date_to))


def compliance_report(*, site, date_from: dt.date, date_to: dt.date) -> Report:
    """Every table of the report and the page's sections.

    The report is kept in the process's cache, rendered, when every day of the period is
    stored (``report_days.stored_fingerprint``), under those days' generations, the digest of
    the thresholds and protocols read in the same query, and today: the triggers move a day's
    generation with every write any table shows for it, so a report computed after reading the
    fingerprint holds at least what it names and keeping it under that fingerprint never hides
    a change. A kept report is then one query. A day still to compute (cleared, new, or past a
    booking's start) means computing the report; the next one is kept."""
    period = Period(site, date_from, date_to)
    query = urlencode({"site": site.pk, "date_from": date_from.isoformat(), "date_to": date_to.isoformat()})
    fingerprint = report_days.stored_fingerprint(site, date_from, date_to, now=timezone.now())
    if fingerprint is None:
        return Report([BUILDERS[slug](period) for slug in SECTIONS], query)
    what = (site.pk, site.time_zone, date_from, date_to, period.today)
    key = "compliance-report:" + hashlib.sha256(repr((what, fingerprint)).encode()).hexdigest()
    report = cache.get(key)
    if report is None:
        report = Report([BUILDERS[slug](period) for slug in SECTIONS], query)
        report.html  # noqa: B018 - kept rendered: the page then prints it as it is
        cache.set(key, report, REPORT_CACHE_SECONDS)
    return report
