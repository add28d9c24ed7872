"""Compliance report for administrators: one site, one date range (the site's local days,
both inclusive). Each section is a ``Table`` (what the page and its CSV show) with a bar
chart drawn server-side as SVG geometry (no script, no inline style)."""

import dataclasses
import datetime as dt
import statistics

from django.db.models import Count
from django.db.models.functions import TruncWeek
from django.utils import timezone

from scheduling.models import Drug, Session, SessionStatus

from . import rules
from .models import AdverseEvent, ClinicalThresholds, Discharge, PrescriberOverride, ReadingKind, VitalsReading
from .selectors import rems_completeness

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


def thresholds() -> rules.Thresholds:
    """The administrator's thresholds, without creating the row on a read."""
    row = ClinicalThresholds.objects.filter(pk=1).first()
    return row.as_rules() if row else rules.DEFAULTS


def local_range(site, date_from: dt.date, date_to: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = site.tzinfo
    start = timezone.make_aware(dt.datetime.combine(date_from, dt.time.min), tz)
    end = timezone.make_aware(dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min), tz)
    return start, end


def sessions_in(site, date_from, date_to):
    start, end = local_range(site, date_from, date_to)
    return Session.objects.filter(chair__site=site, start__gte=start, start__lt=end)


def sessions_by_week(site, date_from, date_to) -> Table:
    statuses = list(SessionStatus)
    counts = (
        sessions_in(site, date_from, date_to)
        .annotate(week=TruncWeek("start", tzinfo=site.tzinfo))
        .values("week", "status")
        .annotate(n=Count("id"))
        .order_by("week")
    )
    weeks: dict[dt.date, dict[str, int]] = {}
    for row in counts:
        weeks.setdefault(row["week"].date(), {})[row["status"]] = row["n"]
    rows = [[week, *(by.get(s.value, 0) for s in statuses), sum(by.values())] for week, by in weeks.items()]
    return Table(
        "sessions-by-week",
        "Sessions by status per week",
        ["Week of", *(s.label for s in statuses), "Total"],
        rows,
        bar_chart([(f"{row[0]:%Y-%m-%d}", row[-1]) for row in rows], "sessions"),
    )


def no_show_rate(site, date_from, date_to) -> Table:
    qs = sessions_in(site, date_from, date_to).exclude(status=SessionStatus.CANCELLED)
    # Only sessions whose day has come count: a booking next week cannot be a no-show yet.
    due = qs.filter(start__lt=timezone.now())
    total = due.count()
    no_shows = due.filter(status=SessionStatus.NO_SHOW).count()
    rate = round(100 * no_shows / total, 1) if total else 0.0
    return Table(
        "no-show-rate",
        "No-show rate",
        ["Sessions due (not cancelled)", "No-shows", "No-show rate (%)"],
        [[total, no_shows, rate]],
        bar_chart([("Attended or in progress", total - no_shows), ("No-show", no_shows)], "sessions"),
    )


def observation_length(site, date_from, date_to, t: rules.Thresholds) -> Table:
    start, end = local_range(site, date_from, date_to)
    pairs = Discharge.objects.filter(
        observation__session__chair__site=site,
        observation__session__start__gte=start,
        observation__session__start__lt=end,
    ).values_list("observation__started_at", "discharged_at")
    minutes = sorted(round((out - began).total_seconds() / 60, 1) for began, out in pairs)
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


def checkpoint_completeness(site, date_from, date_to, t: rules.Thresholds) -> Table:
    discharged = sessions_in(site, date_from, date_to).filter(status=SessionStatus.DISCHARGED)
    # Plain rows, not models: each session's protocol checkpoints and its effective readings
    # (those no correction supersedes), two queries for any number of sessions.
    protocol_minutes = dict(discharged.values_list("pk", "course__protocol__checkpoint_minutes"))
    have: dict[int, set] = {pk: set() for pk in protocol_minutes}
    readings = VitalsReading.objects.filter(
        session__in=discharged.values("pk"), superseded_by__isnull=True
    ).values_list("session_id", "kind", "checkpoint_minute")
    for session_id, kind, minute in readings:
        have[session_id].add((kind, minute if kind == ReadingKind.CHECKPOINT else None))
    complete = 0
    missing_counts: dict[str, int] = {}
    total = 0
    for pk, minutes in protocol_minutes.items():
        total += 1
        minutes = [int(m) for m in minutes] if minutes else list(t.default_checkpoint_minutes)
        required = [
            ("Pre-dose", (ReadingKind.PRE_DOSE, None)),
            *[(f"{m}-minute check", (ReadingKind.CHECKPOINT, m)) for m in minutes],
            ("Before discharge", (ReadingKind.DISCHARGE, None)),
        ]
        missing = [label for label, key in required if key not in have[pk]]
        complete += not missing
        for label in missing:
            missing_counts[label] = missing_counts.get(label, 0) + 1
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


def adverse_events(site, date_from, date_to) -> Table:
    start, end = local_range(site, date_from, date_to)
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


def overrides(site, date_from, date_to) -> Table:
    start, end = local_range(site, date_from, date_to)
    qs = (
        PrescriberOverride.objects.filter(session__chair__site=site, session__start__gte=start, session__start__lt=end)
        .select_related("session__patient", "prescriber")
        .order_by("created_at", "pk")
    )
    rows = [
        [
            timezone.localtime(o.created_at, site.tzinfo).strftime("%Y-%m-%d %H:%M"),
            o.session.patient.mrn,
            o.get_kind_display(),
            "; ".join(str(b) for b in o.blocks) if isinstance(o.blocks, list) else str(o.blocks),
            o.reason,
            o.prescriber.get_full_name() or o.prescriber.get_username(),
        ]
        for o in qs
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


def rems_states(site, date_from, date_to, t: rules.Thresholds) -> Table:
    sessions = (
        sessions_in(site, date_from, date_to)
        .filter(status=SessionStatus.DISCHARGED)
        .exclude(course__protocol__drug__in=[d for d in Drug if d != Drug.ESKETAMINE])
    )
    counts = dict.fromkeys(REMS_STATES, 0)
    today = site.local_today()
    tz = site.tzinfo
    # Submitted and overdue records are told apart by dates alone; only the records still in
    # their window are checked for completeness, from plain rows.
    pending = []
    for pk, start, submission in sessions.values_list("pk", "start", "rems_submission__id"):
        treatment_date = timezone.localtime(start, tz).date()
        if submission is not None:
            counts[REMS_STATES[0]] += 1
        elif rules.rems_days_left(treatment_date=treatment_date, today=today, t=t) < 0:
            counts[REMS_STATES[3]] += 1
        else:
            pending.append(pk)
    for complete in rems_completeness(pending, site=site, t=t).values():
        counts[REMS_STATES[1] if complete else REMS_STATES[2]] += 1
    return Table(
        "rems",
        "REMS monitoring records by state",
        ["State", "Sessions"],
        [[state, n] for state, n in counts.items()],
        bar_chart(list(counts.items()), "records"),
        note="Esketamine sessions discharged in the period.",
    )


SECTIONS = (
    "sessions-by-week",
    "no-show-rate",
    "observation-length",
    "checkpoint-completeness",
    "adverse-events",
    "overrides",
    "rems",
)


def compliance_report(*, site, date_from: dt.date, date_to: dt.date, only: str | None = None) -> list[Table]:
    t = thresholds()
    builders = {
        "sessions-by-week": lambda: sessions_by_week(site, date_from, date_to),
        "no-show-rate": lambda: no_show_rate(site, date_from, date_to),
        "observation-length": lambda: observation_length(site, date_from, date_to, t),
        "checkpoint-completeness": lambda: checkpoint_completeness(site, date_from, date_to, t),
        "adverse-events": lambda: adverse_events(site, date_from, date_to),
        "overrides": lambda: overrides(site, date_from, date_to),
        "rems": lambda: rems_states(site, date_from, date_to, t),
    }
    return [builders[slug]() for slug in SECTIONS if only in (None, slug)]
