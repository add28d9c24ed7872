"""The live observation board, read as plain rows.

Every nurse's tablet asks for the board every few seconds, so it does not build model objects:
it reads the columns it prints (``values()``), applies ``monitoring.rules`` to plain values and
hands the template one dict of ready strings per session. It takes the same decisions as the
session-day page (``selectors.build_day``); tests/monitoring/test_board.py holds the two side
by side."""

import dataclasses
import datetime as dt
from collections.abc import Callable

from django.db.models import Q
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from clinic.models import StaffAlert
from clinic.selectors import cached_per_generation, escaped, url_for_pk
from scheduling.models import Session, SessionStatus, TransportArrangement

from . import rules
from .models import BoardGeneration, CheckIn, PrescriberOverride, ReadingKind, VitalsReading, current_thresholds

_STATUS_LABELS = dict(SessionStatus.choices)
# (column, label) of each pre-dose checklist item, labelled as CheckIn.checklist_missing() does.
_CHECKLIST = tuple((f"checkin__{name}", str(CheckIn._meta.get_field(name).verbose_name)) for name in CheckIn.CHECKLIST)
# The board shows what the stored record still lacks; readiness and the person taking the
# patient home are confirmed in the discharge form itself.
_READINESS = dict.fromkeys(rules.READINESS_LABELS, True)
# Two narrow queries rather than one: planning one join of all nine tables costs PostgreSQL
# more than running both.
_SESSION_COLUMNS = (
    "pk",
    "status",
    "start",
    "chair__name",
    "patient__first_name",
    "patient__last_name",
    "course__protocol__checkpoint_minutes",
)
_DAY_COLUMNS = (
    "pk",
    "transport__status",
    "checkin__id",
    *(column for column, _ in _CHECKLIST),
    "observation__started_at",
    "observation__discharge__discharged_at",
)
_READING_COLUMNS = (
    "session_id",
    "pk",
    "supersedes_id",
    "kind",
    "checkpoint_minute",
    "systolic",
    "diastolic",
    "heart_rate",
    "spo2",
    "respiratory_rate",
    "moaas",
    "flags",
)


def _hm(value: dt.datetime | None, tz) -> str:
    if value is None:
        return ""
    local = value.astimezone(tz)
    return f"{local.hour:02d}:{local.minute:02d}"


def _effective_readings(session_pks: list[int]) -> dict[int, list[dict]]:
    """Each session's readings, oldest first, corrected ones left out. A correction is always
    a reading of the same session, so the corrected readings are those another one supersedes."""
    by_session: dict[int, list[dict]] = {pk: [] for pk in session_pks}
    if not session_pks:
        return by_session
    readings = VitalsReading.objects.filter(session_id__in=session_pks).order_by("taken_at", "pk")
    for row in readings.values(*_READING_COLUMNS):
        by_session[row["session_id"]].append(row)
    for rows in by_session.values():
        superseded = {r["supersedes_id"] for r in rows if r["supersedes_id"] is not None}
        if superseded:
            rows[:] = [r for r in rows if r["pk"] not in superseded]
    return by_session


def _latest_of_kind(readings: list[dict], kind: str) -> dict | None:
    return next((r for r in reversed(readings) if r["kind"] == kind), None)


def _done_key(reading: dict) -> str:
    """``VitalsReading.checkpoint_key`` of a plain row."""
    if reading["kind"] == ReadingKind.CHECKPOINT and reading["checkpoint_minute"]:
        return rules.checkpoint_key(reading["checkpoint_minute"])
    return reading["kind"]


def _overrides(session_pks: list[int]) -> dict[tuple, list]:
    """(session, kind, reading) -> blocks of the newest prescriber override with that key."""
    found: dict[tuple, list] = {}
    if not session_pks:
        return found
    rows = PrescriberOverride.objects.filter(session_id__in=session_pks).order_by("created_at", "pk")
    for session_id, kind, reading_id, blocks in rows.values_list("session_id", "kind", "reading_id", "blocks"):
        found[session_id, kind, reading_id] = blocks
    return found


@dataclasses.dataclass
class _Facts:
    """What the board reads of a site's day: the same until something is written to it."""

    sessions: list[dict]
    readings: dict[int, list[dict]]
    overrides: dict[tuple, list]
    alerts: list[StaffAlert]  # the open nurse alerts of the site and of every site, newest first


def _read_facts(site, day_start: dt.datetime) -> _Facts:
    sessions = list(
        Session.objects.filter(chair__site=site, start__gte=day_start, start__lt=day_start + dt.timedelta(days=1))
        .exclude(status=SessionStatus.CANCELLED)
        .order_by("start", "chair__name")
        .values(*_SESSION_COLUMNS)
    )
    pks = [s["pk"] for s in sessions]
    if pks:
        more = {row["pk"]: row for row in Session.objects.filter(pk__in=pks).values(*_DAY_COLUMNS)}
        for s in sessions:
            s.update(more[s["pk"]])
    alerts = list(
        StaffAlert.objects.filter(acknowledged_at__isnull=True, audience="nurse").filter(
            Q(site=site) | Q(site__isnull=True)
        )[:20]
    )
    return _Facts(sessions=sessions, readings=_effective_readings(pks), overrides=_overrides(pks), alerts=alerts)


def _facts(site, today: dt.date) -> _Facts:
    """Today's facts at ``site``, kept under the site's board generation (migrations 0005 and
    0007, which adds the staff alerts):
    every tablet asks for the board every few seconds, and between two writes they all read
    the same rows."""
    day_start = dt.datetime.combine(today, dt.time.min, tzinfo=site.tzinfo)
    return cached_per_generation(
        BoardGeneration, site, f"board-facts:{site.time_zone}:{today}", lambda: _read_facts(site, day_start)
    )


@dataclasses.dataclass(slots=True)
class _Day:
    """One session's columns and effective readings, and what the rules decide before the
    prescriber overrides are known."""

    columns: dict
    readings: list[dict]
    blocks: list[str]  # why a checked-in patient may not be dosed yet
    before_discharge: dict | None  # the latest before-discharge reading of a session in observation
    override_key: tuple | None  # the override that would lift ``blocks`` or accept ``before_discharge``


def _day(columns: dict, readings: list[dict], t: rules.Thresholds) -> _Day:
    day = _Day(columns, readings, blocks=[], before_discharge=None, override_key=None)
    pk, status = columns["pk"], columns["status"]
    if status == SessionStatus.CHECKED_IN:
        predose = _latest_of_kind(readings, ReadingKind.PRE_DOSE)
        if columns["checkin__id"] is None:
            missing = ["patient not checked in"]
        else:
            missing = [label for column, label in _CHECKLIST if not columns[column]]
        day.blocks = rules.predose_blocks(
            checklist_missing=missing,
            systolic=predose["systolic"] if predose else None,
            diastolic=predose["diastolic"] if predose else None,
            t=t,
        )
        if day.blocks:
            day.override_key = (pk, PrescriberOverride.Kind.PRE_DOSE, predose["pk"] if predose else None)
    elif status == SessionStatus.IN_OBSERVATION:
        day.before_discharge = _latest_of_kind(readings, ReadingKind.DISCHARGE)
        if day.before_discharge is not None and day.before_discharge["flags"]:
            day.override_key = (pk, PrescriberOverride.Kind.DISCHARGE_VITALS, day.before_discharge["pk"])
    return day


def board(*, site, now: dt.datetime | None = None) -> dict:
    """Today's sessions at ``site`` (not cancelled), one row each, and the open nurse alerts,
    whatever the number of chairs: thresholds and the board generation, and after a change the
    sessions, their day's records, readings, overrides and the open alerts."""
    now = now or timezone.now()
    t = current_thresholds()
    tz = site.tzinfo
    today = now.astimezone(tz).date()
    facts = _facts(site, today)
    days = [_day(s, facts.readings[s["pk"]], t) for s in facts.sessions]
    overrides = facts.overrides
    url = url_for_pk("monitoring:session-day", escaped=False)  # escaped by rows_html
    rows = [_row(d, overrides.get(d.override_key), now=now, tz=tz, t=t, url=url) for d in days]
    return {
        "rows": rows,
        "rows_html": rows_html(rows),
        "alerts": facts.alerts,
        "today": today,
        "now": now,
        "thresholds": t,
    }


def _row(day: _Day, override: list | None, *, now, tz, t: rules.Thresholds, url: Callable[[int], str]) -> dict:
    """One line of the board as the template prints it: every time already local to the site
    and every rule already applied. ``override``: the blocks of the override found for
    ``day.override_key`` (None without one)."""
    s = day.columns
    started_at = s["observation__started_at"]
    in_observation = s["status"] == SessionStatus.IN_OBSERVATION and started_at is not None
    reading = day.readings[-1] if day.readings else None
    since_dose = check = gate = None
    if in_observation:
        since_dose = rules.minutes_between(started_at, now)
        check = rules.next_checkpoint(
            rules.checkpoint_states(
                started_at=started_at,
                minutes=rules.observation_checkpoint_minutes(s["course__protocol__checkpoint_minutes"], t),
                done_keys={_done_key(r) for r in day.readings},
                now=now,
                t=t,
            )
        )
        gate = rules.discharge_gate(
            started_at=started_at,
            now=now,
            discharge_reading_flags=day.before_discharge["flags"] if day.before_discharge else None,
            vitals_overridden=override is not None,
            readiness=_READINESS,
            pickup_name="-",
            tzinfo=tz,
            t=t,
        )
    ride = s["transport__status"]
    return {
        "url": url(s["pk"]),
        "chair_name": s["chair__name"],
        "time": _hm(s["start"], tz),
        "patient_name": f"{s['patient__first_name']} {s['patient__last_name']}",
        "status": s["status"],
        "status_display": _STATUS_LABELS.get(s["status"], s["status"]),
        "dosing_blocked": bool(day.blocks) and (override is None or any(b not in override for b in day.blocks)),
        "since_dose": f"{since_dose} min" if since_dose is not None else "–",
        "check_label": check.label if check else "",
        "check_time": _hm(check.due_at, tz) if check else "",
        "check_status": check.status if check else "",
        "vitals": (
            f"{reading['systolic']}/{reading['diastolic']} · HR {reading['heart_rate']} · SpO2 {reading['spo2']}%"
            f" · RR {reading['respiratory_rate']} · MOAA/S {reading['moaas']}"
        )
        if reading
        else "",
        "flags": (reading["flags"] or []) if reading else [],
        "discharged": _hm(s["observation__discharge__discharged_at"], tz),
        "gate_missing": gate.missing if gate else None,
        "ride_unconfirmed": ride is None or ride == TransportArrangement.Status.UNCONFIRMED,
    }


_CHECK_BADGES = {
    "overdue": ' <span class="badge flag flag-critical">Overdue</span>',
    "due": ' <span class="badge flag flag-warning">Due</span>',
}


def rows_html(rows: list[dict]) -> SafeString:
    """The board's table rows, every value escaped. The board is asked for every few seconds
    by every nurse's tablet; printing some twenty values per row through the template engine
    took a third of the request."""
    out = []
    for row in rows:
        blocked = '<div class="small text-danger">Dosing blocked</div>' if row["dosing_blocked"] else ""
        if row["check_label"]:
            badge = _CHECK_BADGES.get(row["check_status"], "")
            check = f"{escaped(row['check_label'])} {escaped(row['check_time'])}{badge}"
        else:
            check = "–"
        if row["vitals"]:
            flags = "".join(
                f'<span class="badge flag flag-{escaped(f["severity"])}">{escaped(f["label"])}</span> '
                for f in row["flags"]
            )
            vitals = f'<span class="text-nowrap">{escaped(row["vitals"])}</span><div>{flags}</div>'
        else:
            vitals = "–"
        if row["status"] == SessionStatus.DISCHARGED:
            discharge = f"Discharged {escaped(row['discharged'])}"
        elif row["gate_missing"] is not None:
            if row["gate_missing"]:
                items = "".join(f"<li>{escaped(m)}</li>" for m in row["gate_missing"])
                discharge = f'<ul class="list-unstyled small mb-0">{items}</ul>'
            else:
                discharge = '<span class="badge bg-success">Ready for discharge checks</span>'
            if row["ride_unconfirmed"]:
                discharge += '<div class="small text-danger">Ride home not confirmed</div>'
        else:
            discharge = "–"
        out.append(
            f'<tr class="status-{escaped(row["status"])}">'
            f'<td class="fw-semibold">{escaped(row["chair_name"])}</td>'
            f"<td>{escaped(row['time'])}</td>"
            f'<td><a href="{escaped(row["url"])}">{escaped(row["patient_name"])}</a></td>'
            f"<td>{escaped(row['status_display'])}{blocked}</td>"
            f"<td>{escaped(row['since_dose'])}</td>"
            f"<td>{check}</td>"
            f"<td>{vitals}</td>"
            f"<td>{discharge}</td>"
            "</tr>\n"
        )
    return mark_safe("".join(out))  # noqa: S308 - every value escaped above
