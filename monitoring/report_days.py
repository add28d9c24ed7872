"""What the compliance report counts, per site and local day, and the stored days.

A day's ``DaySummary`` holds only facts about its sessions: how many there are by status, the
observation lengths, and for each discharged session its protocol, which required readings it
has and where its REMS record stands (submitted; or every field but the after-dosing BP filled
in, or not). The report applies the thresholds, the protocols' checkpoints and drugs and the
REMS window when it reads the days, so a stored day stays right when an administrator changes
any of them.

On PostgreSQL every day the report computes is stored (``ComplianceDay``). Triggers clear a
stored day and bump its generation whenever one of its sessions changes (migration 0003); the
report then computes it again from the sessions and stores it only if the generation is still
the one it read, so a change made while it was computing is never hidden. The one fact that
changes with the clock alone is whether a session's time has come (``due``): a day stored
before one of its sessions started is used only until that start (``valid_until``), so today
is read from the store between bookings and changes, and computed again after them. SQLite (the
embedded mode) computes every day live."""

import dataclasses
import datetime as dt
import json
from collections import Counter

from django.db import connection
from django.utils import timezone

from scheduling.models import Protocol

from . import selectors_reports
from .models import ClinicalThresholds, ComplianceDay

ONE_DAY = dt.timedelta(days=1)
# Where a discharged session's REMS record stands, apart from the after-dosing BP.
SUBMITTED, READY, MISSING = "submitted", "ready", "missing"


def local_range(site, date_from: dt.date, date_to: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """From the start of ``date_from`` to the end of ``date_to``, the site's local days."""
    tz = site.tzinfo
    start = timezone.make_aware(dt.datetime.combine(date_from, dt.time.min), tz)
    end = timezone.make_aware(dt.datetime.combine(date_to + ONE_DAY, dt.time.min), tz)
    return start, end


def days_between(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


@dataclasses.dataclass
class DaySummary:
    statuses: Counter = dataclasses.field(default_factory=Counter)  # (status, due) -> sessions
    lengths: Counter = dataclasses.field(default_factory=Counter)  # minutes, to 0.1 -> discharges
    # (protocol id, or None outside a course; frozenset of (kind, minute) of the required
    # readings; REMS record: SUBMITTED, READY or MISSING) -> discharged sessions
    discharged: Counter = dataclasses.field(default_factory=Counter)
    # When the summary goes stale with no change to the data: the start of its first session
    # not yet due when it was computed (None: none). Kept beside the summary, not in it.
    valid_until: dt.datetime | None = dataclasses.field(default=None, compare=False)

    def add(self, other: "DaySummary") -> None:
        for name in ("statuses", "lengths", "discharged"):
            getattr(self, name).update(getattr(other, name))

    def to_json(self) -> dict:
        return {
            "statuses": [[status, due, n] for (status, due), n in self.statuses.items()],
            "lengths": [[minutes, n] for minutes, n in self.lengths.items()],
            "discharged": [
                [protocol, sorted([kind, minute] for kind, minute in have), rems, n]
                for (protocol, have, rems), n in self.discharged.items()
            ],
        }

    @classmethod
    def from_json(cls, data: dict) -> "DaySummary":
        return cls(
            Counter({(status, due): n for status, due, n in data["statuses"]}),
            Counter({minutes: n for minutes, n in data["lengths"]}),
            Counter(
                {(protocol, frozenset(map(tuple, have)), rems): n for protocol, have, rems, n in data["discharged"]}
            ),
        )


def rems_state_of(sessions: list[selectors_reports.DischargedSession], *, site) -> dict[int, str]:
    """Where each discharged session's REMS record stands apart from the after-dosing BP:
    SUBMITTED, READY or MISSING (two queries when any is unsubmitted, none otherwise)."""
    ready = selectors_reports.rems_ready([s for s in sessions if not s.rems_submitted], site=site)
    return {s.pk: SUBMITTED if s.rems_submitted else READY if ready[s.pk] else MISSING for s in sessions}


def live_days(site, first: dt.date, last: dt.date, *, now: dt.datetime) -> dict[dt.date, DaySummary]:
    """Every day from ``first`` to ``last`` computed from the sessions, in five queries (three
    when every discharged session's REMS form was submitted)."""
    days = {day: DaySummary() for day in days_between(first, last)}
    start, end = local_range(site, first, last)
    for row in selectors_reports.status_counts(site, start, end, now=now):
        day = days[row["day"]]
        day.statuses[(row["status"], row["due"])] += row["n"]
        if not row["due"]:
            day.valid_until = min(filter(None, (day.valid_until, row["first_start"])))
    # Keyed by protocol: its checkpoints and drug are looked up when the report is read.
    discharged = selectors_reports.discharged_sessions(site, start, end)
    states = rems_state_of(discharged, site=site)
    for session in discharged:
        day = days[session.day]
        if session.observation_length is not None:
            day.lengths[round(session.observation_length.total_seconds() / 60, 1)] += 1
        day.discharged[(session.protocol_id, frozenset(session.readings), states[session.pk])] += 1
    return days


def stores_days() -> bool:
    return connection.vendor == "postgresql"


def period_days(site, first: dt.date, last: dt.date, *, now: dt.datetime) -> dict[dt.date, DaySummary]:
    """Every day of the period: the stored days still valid at ``now`` as stored, the rest
    computed live from the first day that is not (one pass, so a day cleared weeks back costs
    one longer request), and the computed days that were not valid stored for the next report."""
    stored: dict[dt.date, tuple[int, dict | None, dt.datetime | None]] = {}
    if stores_days():
        stored = {
            day: (generation, summary, valid_until)
            for day, generation, summary, valid_until in ComplianceDay.objects.filter(
                site=site, day__gte=first, day__lte=last
            ).values_list("day", "generation", "summary", "valid_until")
        }

    def valid(day: dt.date) -> bool:
        _, summary, valid_until = stored.get(day, (0, None, None))
        return summary is not None and (valid_until is None or now < valid_until)

    every_day = days_between(first, last)
    live_from = next((day for day in every_day if not valid(day)), None)
    days = {day: DaySummary.from_json(stored[day][1]) for day in every_day if live_from is None or day < live_from}
    if live_from is not None:
        computed = live_days(site, live_from, last, now=now)
        days.update(computed)
        if stores_days():
            store(
                site,
                {day: (stored.get(day, (0,))[0], summary) for day, summary in computed.items() if not valid(day)},
            )
    return days


def _fingerprint_sql() -> str:
    day = ComplianceDay._meta.db_table
    thresholds = ClinicalThresholds._meta.db_table
    protocol = Protocol._meta.db_table
    # Table names from the models' metadata; every value is a parameter.
    return f"""
        SELECT count(*),
               string_agg(d.id || ':' || d.generation || ':' || coalesce(d.valid_until::text, '-'), ',' ORDER BY d.day),
               (SELECT t::text FROM {thresholds} t WHERE t.id = 1),
               (SELECT string_agg(p::text, ',' ORDER BY p.id) FROM {protocol} p)
        FROM {day} d
        WHERE d.site_id = %s AND d.day BETWEEN %s AND %s AND d.summary IS NOT NULL
          AND (d.valid_until IS NULL OR d.valid_until > %s)
    """  # noqa: S608


def stored_fingerprint(site, first: dt.date, last: dt.date, *, now: dt.datetime) -> tuple | None:
    """What the stored days of the period are at ``now`` (each day's row, generation and
    ``valid_until``) and what the report applies to them (the thresholds row, none meaning the
    defaults, and every protocol, each as its whole row, so any edit changes them); or None
    when a day must be computed (no row, cleared, or past its ``valid_until``) or days are not
    stored (SQLite). The triggers move a day's generation with every write the report shows
    for it, and a day computed again after its ``valid_until`` is stored with a later one, so
    equal fingerprints mean the same report. One query, one row."""
    if not stores_days():
        return None
    with connection.cursor() as cursor:
        cursor.execute(_fingerprint_sql(), [site.pk, first, last, now])
        count, days, thresholds, protocols = cursor.fetchone()
    return (days, thresholds, protocols) if count == (last - first).days + 1 else None


_STORE_SQL = """
INSERT INTO monitoring_complianceday (site_id, day, generation, summary, valid_until) VALUES {values}
ON CONFLICT (site_id, day) DO UPDATE SET summary = EXCLUDED.summary, valid_until = EXCLUDED.valid_until
WHERE monitoring_complianceday.generation = EXCLUDED.generation
"""


def store(site, days: dict[dt.date, tuple[int, DaySummary]]) -> None:
    """Store computed days, each only if its generation is still the one read before computing
    it (0: there was no row). A day changed since then keeps its cleared row and is computed
    again by the next report. Two reports storing the same generation store the same facts; if
    the later write was computed earlier, its ``valid_until`` has passed or is the earlier one,
    so it is computed again rather than read stale. One statement; safe to run twice."""
    if not days:
        return
    values = ", ".join(["(%s, %s, %s, %s::jsonb, %s)"] * len(days))
    params = []
    for day, (generation, summary) in days.items():
        params += [site.pk, day, generation, json.dumps(summary.to_json()), summary.valid_until]
    with connection.cursor() as cursor:
        cursor.execute(_STORE_SQL.format(values=values), params)


def check_stored(site, *, now: dt.datetime) -> list[dt.date]:
    """The stored days of ``site`` that differ from the same days computed live now (a day
    changed by something the triggers do not cover would show here). One pass over the span of
    the stored days."""
    stored = dict(
        ComplianceDay.objects.filter(site=site, summary__isnull=False)
        .exclude(valid_until__lte=now)
        .order_by("day")
        .values_list("day", "summary")
    )
    if not stored:
        return []
    live = live_days(site, min(stored), max(stored), now=now)
    return [day for day, summary in stored.items() if DaySummary.from_json(summary) != live[day]]
