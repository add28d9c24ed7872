"""The course planner (rules.generate_schedule): properties over random protocols, offered
weekdays, closures, opening hours and time zones, and one example for each case a
scheduler met. Pure: no database."""

import datetime as dt
import zoneinfo
from collections import Counter
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from scheduling import rules

NY = zoneinfo.ZoneInfo("America/New_York")
ZONES = [
    "America/New_York",
    "Europe/London",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "America/Phoenix",
    "Asia/Kolkata",
    "Pacific/Auckland",
    "UTC",
]
MON_SAT = {d: (dt.time(8), dt.time(18)) for d in range(6)}
ALL_DAY = {d: (dt.time(0), dt.time(23, 59)) for d in range(7)}
ESK = {"dose_mg": Decimal("84"), "session_minutes": 165}
MDSI = [rules.PhaseSpec(name="Twice weekly", weeks=4, sessions_per_week=2, min_days_between=2, **ESK)]
WEEKLY = [rules.PhaseSpec(name="Weekly", weeks=4, sessions_per_week=1, min_days_between=5, **ESK)]


def plan(phases, start, weekdays, *, at=dt.time(9), hours=MON_SAT, closures=(), tz=NY, now=None):
    return rules.generate_schedule(
        phases=phases,
        start_date=start,
        weekdays=weekdays,
        start_time=at,
        opening_hours=hours,
        closures=closures,
        tz=tz,
        now=now,
    )


def week_of(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def assert_keeps_every_rule(proposals, phases, *, weekdays, at, hours, closures, tz, now=None):
    """What every plan must hold, whatever the input."""
    by_name = {p.name: p for p in phases}
    for before, after in zip(proposals, proposals[1:], strict=False):
        gap = (after.date - before.date).days
        assert gap >= 2, "no consecutive days"
        assert gap >= by_name[after.phase_name].min_days_between, "every gap at least the phase minimum"
    weeks = Counter(week_of(p.date) for p in proposals)
    for proposal in proposals:
        ceiling = by_name[proposal.phase_name].sessions_per_week
        assert weeks[week_of(proposal.date)] <= ceiling, "at most N a calendar week"
        assert proposal.date.weekday() in weekdays, "only offered days"
        assert proposal.date not in set(closures), "never on a closure"
        problem = rules.opening_problem(proposal.start, proposal.end, opening_hours=hours, closures=closures, tz=tz)
        assert problem is None, "open, within opening hours"
        shown = proposal.start.astimezone(tz)
        assert (shown.date(), shown.time()) == (proposal.date, at), "the local wall-clock time kept"
        stored = proposal.start.astimezone(dt.UTC)
        assert stored.astimezone(tz).replace(tzinfo=None) == dt.datetime.combine(proposal.date, at), (
            "the stored instant is the time shown"
        )
        assert proposal.end - proposal.start == dt.timedelta(minutes=by_name[proposal.phase_name].session_minutes)
        if now is not None:
            assert proposal.start > now, "nothing in the past"
        assert bool(proposal.reason) == (proposal.moved_from is not None), "a moved proposal says why"
    assert [p.date for p in proposals] == sorted({p.date for p in proposals})


@st.composite
def phase_lists(draw):
    phases = []
    for order in range(1, draw(st.integers(1, 3)) + 1):
        per_week = draw(st.sampled_from([1, 1, 2, 2, 3]))
        interval = draw(st.integers(1, 3)) if per_week == 1 else 1
        length = draw(st.one_of(st.builds(dict, weeks=st.integers(1, 5)), st.builds(dict, sessions=st.integers(1, 6))))
        phases.append(
            rules.PhaseSpec(
                name=f"Phase {order}",
                sessions_per_week=per_week,
                interval_weeks=interval,
                min_days_between=rules.default_min_days_between(per_week, interval),
                session_minutes=draw(st.sampled_from([60, 135, 165, 180])),
                dose_mg=Decimal("56"),
                order=order,
                review_after=draw(st.booleans()) and draw(st.booleans()),
                **length,
            )
        )
    return phases


@st.composite
def opening_maps(draw):
    hours = {}
    for weekday in range(7):
        if draw(st.integers(0, 7)) == 0:
            continue  # closed that weekday
        opens = draw(st.integers(0, 9))
        closes = draw(st.integers(max(opens + 4, 14), 23))
        hours[weekday] = (dt.time(opens), dt.time(closes, 59 if closes == 23 else 0))
    return hours


@st.composite
def cases(draw):
    start = dt.date(2026, 1, 1) + dt.timedelta(days=draw(st.integers(0, 730)))
    closures = {start + dt.timedelta(days=n) for n in draw(st.lists(st.integers(0, 150), max_size=25))}
    if draw(st.booleans()):  # a long closure
        first = draw(st.integers(0, 60))
        closures |= {start + dt.timedelta(days=first + n) for n in range(draw(st.integers(7, 30)))}
    return {
        "phases": draw(phase_lists()),
        "start": start,
        "weekdays": sorted(draw(st.sets(st.integers(0, 6), min_size=2, max_size=7))),
        "at": dt.time(draw(st.one_of(st.integers(0, 20), st.integers(9, 11))), draw(st.sampled_from([0, 15, 30, 45]))),
        "hours": draw(opening_maps()),
        "closures": closures,
        "tz": zoneinfo.ZoneInfo(draw(st.sampled_from(ZONES))),
        "now_minutes": draw(st.none() | st.integers(0, 24 * 60 - 1)),
    }


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_every_plan_keeps_every_rule(case):
    tz, start = case["tz"], case["start"]
    now = None
    if case["now_minutes"] is not None:
        now = dt.datetime.combine(start, dt.time(0), tzinfo=tz) + dt.timedelta(minutes=case["now_minutes"])
    kwargs = {k: case[k] for k in ("weekdays", "at", "hours", "closures", "tz")}
    try:
        proposals = plan(case["phases"], start, now=now, **kwargs)
    except rules.ScheduleError as exc:
        event("refused")
        assert str(exc)  # a refusal always says why
        return
    assert_keeps_every_rule(proposals, case["phases"], now=now, **kwargs)
    # Nothing is dropped: every session of every phase up to the first review.
    expected = 0
    for phase in case["phases"]:
        expected += phase.total_sessions
        if phase.review_after and phase.total_sessions:
            break
    assert len(proposals) == expected


@settings(max_examples=50, deadline=None)
@given(cases())
def test_a_closure_never_compresses_the_course(case):
    kwargs = {k: case[k] for k in ("weekdays", "at", "hours", "tz")}
    try:
        open_plan = plan(case["phases"], case["start"], **kwargs)
        closed_plan = plan(case["phases"], case["start"], closures=case["closures"], **kwargs)
    except rules.ScheduleError:
        return
    assert len(closed_plan) == len(open_plan)
    for with_closures, without in zip(closed_plan, open_plan, strict=True):
        assert with_closures.date >= without.date


# --- The cases a scheduler met --------------------------------------------------------


def test_a_time_the_clocks_skip_moves_with_a_note_naming_the_change():
    sundays = plan(WEEKLY, dt.date(2026, 3, 1), [6], at=dt.time(2, 30), hours=ALL_DAY)  # Sun 1 March
    assert dt.date(2026, 3, 8) not in [p.date for p in sundays]
    moved = sundays[1]
    assert moved.moved_from == dt.date(2026, 3, 8)
    assert "the clocks go forward" in moved.reason
    assert all(p.start.astimezone(NY).time() == dt.time(2, 30) for p in sundays)
    assert "the clocks go forward 1 hour" in rules.clock_problem(dt.date(2026, 3, 8), dt.time(2, 30), NY)
    assert rules.clock_problem(dt.date(2026, 3, 9), dt.time(2, 30), NY) is None


def test_lord_howe_skips_half_an_hour():
    lord_howe = zoneinfo.ZoneInfo("Australia/Lord_Howe")
    assert "forward 30 minutes" in rules.clock_problem(dt.date(2026, 10, 4), dt.time(2, 15), lord_howe)


def test_a_repeated_time_is_its_first_occurrence():
    start = rules.local_datetime(dt.date(2026, 11, 1), dt.time(1, 30), NY)
    assert start.utcoffset() == dt.timedelta(hours=-4)  # still daylight time: the first 01:30
    assert start.astimezone(dt.UTC) == dt.datetime(2026, 11, 1, 5, 30, tzinfo=dt.UTC)
    assert "the session is at the first one" in rules.clock_note(dt.date(2026, 11, 1), dt.time(1, 30), NY)
    assert rules.clock_note(dt.date(2026, 11, 2), dt.time(1, 30), NY) == ""


def test_a_week_long_closure_in_the_induction_delays_it_and_never_gives_three_a_week():
    closed = {dt.date(2026, 6, 8) + dt.timedelta(days=n) for n in range(7)}
    proposals = plan(MDSI, dt.date(2026, 6, 1), [0, 3], closures=closed)
    assert len(proposals) == 8
    assert max(Counter(week_of(p.date) for p in proposals).values()) == 2
    assert [p.date.day for p in proposals[:4]] == [1, 4, 15, 18]
    assert proposals[2].reason == "Moved from Mon 8 Jun: site closed."
    assert_keeps_every_rule(proposals, MDSI, weekdays=[0, 3], at=dt.time(9), hours=MON_SAT, closures=closed, tz=NY)


def test_a_closure_in_the_weekly_phase_keeps_doses_five_days_apart():
    closed = {dt.date(2026, 7, 13): "staff training"}
    proposals = plan(WEEKLY, dt.date(2026, 7, 6), [0, 3], closures=closed)
    assert [p.date for p in proposals] == [
        dt.date(2026, 7, 6),
        dt.date(2026, 7, 16),  # Thursday: Monday was closed
        dt.date(2026, 7, 27),  # Monday 20 would be 4 days after it
        dt.date(2026, 8, 3),
    ]
    assert proposals[1].reason == "Moved from Mon 13 Jul: site closed (staff training)."
    assert_keeps_every_rule(proposals, WEEKLY, weekdays=[0, 3], at=dt.time(9), hours=MON_SAT, closures=closed, tz=NY)


def test_year_end_closures_never_give_three_induction_doses_in_a_week():
    closed = {dt.date(2026, 12, 25), dt.date(2026, 12, 31), dt.date(2027, 1, 1)}
    proposals = plan(MDSI, dt.date(2026, 12, 14), [0, 3, 4], closures=closed)
    assert len(proposals) == 8
    assert max(Counter(week_of(p.date) for p in proposals).values()) <= 2
    assert_keeps_every_rule(proposals, MDSI, weekdays=[0, 3, 4], at=dt.time(9), hours=MON_SAT, closures=closed, tz=NY)


def test_twice_weekly_uses_the_offered_pair_furthest_apart():
    proposals = plan(MDSI, dt.date(2026, 3, 2), [0, 1, 4])  # Mon/Tue/Fri
    assert {p.date.weekday() for p in proposals} == {0, 4}  # never a Wednesday
    closed = {dt.date(2026, 3, 9)}
    moved = plan(MDSI, dt.date(2026, 3, 2), [0, 1, 4], closures=closed)
    assert {p.date.weekday() for p in moved} <= {0, 1, 4}
    assert moved[2].date == dt.date(2026, 3, 10)  # the closed Monday moves to the offered Tuesday


def test_it_says_so_when_no_offered_days_fit():
    with pytest.raises(rules.ScheduleError, match="at least 2 days apart"):
        plan(MDSI, dt.date(2026, 3, 2), [2, 3])  # Wed/Thu


def test_a_start_date_in_the_past_is_refused():
    now = dt.datetime(2026, 3, 11, 10, tzinfo=NY)
    with pytest.raises(rules.ScheduleError, match="cannot start in the past"):
        plan(MDSI, dt.date(2026, 3, 2), [0, 3], now=now)


def test_a_start_today_after_the_time_moves_the_first_session_and_keeps_all_of_them():
    now = dt.datetime(2026, 3, 2, 10, tzinfo=NY)  # Monday, after 09:00
    proposals = plan(MDSI, dt.date(2026, 3, 2), [0, 3], now=now)
    assert len(proposals) == 8
    assert proposals[0].date == dt.date(2026, 3, 5)
    assert proposals[0].reason == "Moved from Mon 2 Mar: 09:00 that day has already passed."
    assert all(p.start > now for p in proposals)


def test_a_closure_longer_than_two_weeks_delays_the_course_instead_of_refusing_it():
    closed = {dt.date(2026, 3, 9) + dt.timedelta(days=n) for n in range(30)}
    proposals = plan(MDSI, dt.date(2026, 3, 2), [0, 3], closures=closed)
    assert len(proposals) == 8
    assert proposals[2].date == dt.date(2026, 4, 9)
    assert proposals[2].reason == "Moved from Mon 9 Mar: site closed."


def test_a_phase_with_a_review_ends_the_plan():
    phases = [
        rules.PhaseSpec(name="Induction", weeks=4, sessions_per_week=2, review_after=True, order=1, **ESK),
        rules.PhaseSpec(name="Weekly", weeks=4, sessions_per_week=1, min_days_between=5, order=2, **ESK),
    ]
    proposals = plan(phases, dt.date(2026, 3, 2), [0, 3])
    assert len(proposals) == 8
    assert [p.review_follows for p in proposals] == [False] * 7 + [True]


def test_the_plan_after_a_review_continues_from_the_last_dose():
    proposals = rules.generate_schedule(
        phases=WEEKLY,
        start_date=dt.date(2026, 3, 27),
        weekdays=[0, 3],
        start_time=dt.time(9),
        opening_hours=MON_SAT,
        closures=(),
        tz=NY,
        after=dt.date(2026, 3, 26),  # last induction dose, Thursday
        first_sequence=9,
    )
    assert proposals[0].date == dt.date(2026, 4, 2)  # the next Thursday: a Monday would be 4 days after
    assert proposals[0].sequence == 9
