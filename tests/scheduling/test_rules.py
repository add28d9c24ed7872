"""The schedule generator: pure, no database."""

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest

from scheduling import rules

NY = zoneinfo.ZoneInfo("America/New_York")
LONDON = zoneinfo.ZoneInfo("Europe/London")
MON_SAT = {d: (dt.time(8), dt.time(18)) for d in range(6)}
ESK = {"dose_mg": Decimal("56"), "session_minutes": 165}

TRD = [
    rules.PhaseSpec(name="Induction", weeks=4, sessions_per_week=2, **ESK),
    rules.PhaseSpec(name="Weekly", weeks=4, sessions_per_week=1, **ESK),
    rules.PhaseSpec(name="Maintenance", weeks=16, sessions_per_week=1, interval_weeks=2, **ESK),
]
MDSI = [rules.PhaseSpec(name="Twice weekly", weeks=4, sessions_per_week=2, dose_mg=Decimal("84"), session_minutes=165)]
IV = [
    rules.PhaseSpec(name="Induction", sessions=6, sessions_per_week=3, dose_mg=Decimal("35"), session_minutes=180),
    rules.PhaseSpec(name="Weekly", weeks=2, sessions_per_week=1, dose_mg=Decimal("35"), session_minutes=180),
    rules.PhaseSpec(name="Every 2", sessions=1, interval_weeks=2, dose_mg=Decimal("35"), session_minutes=180),
    rules.PhaseSpec(name="Every 3", sessions=1, interval_weeks=3, dose_mg=Decimal("35"), session_minutes=180),
    rules.PhaseSpec(name="Every 4", sessions=1, interval_weeks=4, dose_mg=Decimal("35"), session_minutes=180),
]


def generate(phases, start, weekdays, *, at=dt.time(9), hours=MON_SAT, closures=(), tz=NY):
    return rules.generate_schedule(
        phases=phases,
        start_date=start,
        weekdays=weekdays,
        start_time=at,
        opening_hours=hours,
        closures=closures,
        tz=tz,
    )


def gaps(proposals):
    return [(b.date - a.date).days for a, b in zip(proposals, proposals[1:], strict=False)]


def test_it_plans_the_trd_protocol_with_tapering():
    plan = generate(TRD, dt.date(2026, 3, 2), [0, 3])  # Monday start, Mon/Thu
    assert len(plan) == 8 + 4 + 8
    assert [p.phase_name for p in plan[:8]] == ["Induction"] * 8
    assert [p.date.weekday() for p in plan[:8]] == [0, 3] * 4
    assert gaps(plan[8:12]) == [7, 7, 7]
    assert gaps(plan[12:]) == [14] * 7
    # The first maintenance session comes two weeks after the last weekly one.
    assert (plan[12].date - plan[11].date).days == 14
    assert [p.sequence for p in plan] == list(range(1, 21))


def test_it_plans_the_suicidal_ideation_protocol_at_84_mg():
    plan = generate(MDSI, dt.date(2026, 3, 3), [1, 4])
    assert len(plan) == 8
    assert {p.dose_mg for p in plan} == {Decimal("84")}
    assert plan[-1].date - plan[0].date < dt.timedelta(weeks=4)


def test_it_plans_iv_ketamine_six_infusions_then_taper():
    plan = generate(IV, dt.date(2026, 3, 2), [0, 2, 4])
    assert len(plan) == 6 + 2 + 1 + 1 + 1
    assert plan[5].date - plan[0].date <= dt.timedelta(days=13)
    assert plan[6].date == dt.date(2026, 3, 16)  # the week after induction, on the first weekday
    assert gaps(plan[6:]) == [7, 14, 21, 28]


def test_it_refuses_twice_weekly_on_consecutive_days_only():
    with pytest.raises(rules.ScheduleError, match="at least 2 days apart"):
        generate(MDSI, dt.date(2026, 3, 2), [0, 1])  # Mon/Tue offered: no pair fits


def test_a_closure_moves_to_the_next_offered_day_keeping_the_gap():
    thursday = dt.date(2026, 3, 5)
    plan = generate(MDSI, dt.date(2026, 3, 2), [0, 3], closures={thursday})
    assert thursday not in [p.date for p in plan]
    assert plan[1].date == dt.date(2026, 3, 9)  # Friday was not offered: the next Monday
    assert plan[1].moved_from == thursday
    assert plan[1].reason == "Moved from Thu 5 Mar: site closed."
    assert {p.date.weekday() for p in plan} == {0, 3}
    assert min(gaps(plan)) >= 2


def test_a_moved_session_keeps_the_next_one_at_its_gap():
    monday = dt.date(2026, 3, 2)
    plan = generate(MDSI, monday, [0, 2, 3], closures={monday})  # Mon/Thu used, Mon closed -> Wed
    assert plan[0].date == dt.date(2026, 3, 4)
    assert plan[1].date == dt.date(2026, 3, 9)  # Thu is 1 day after Wed: the next Monday
    assert min(gaps(plan)) >= 2


def test_it_says_when_an_offered_day_does_not_fit_the_hours():
    hours = {**MON_SAT, 5: (dt.time(9), dt.time(11))}  # Saturday too short for a 09:00 session
    with pytest.raises(rules.ScheduleError, match="does not fit Saturday's hours"):
        generate(MDSI, dt.date(2026, 3, 6), [4, 5], hours=hours)  # Fri/Sat


def test_it_starts_no_earlier_than_the_start_date():
    plan = generate(MDSI, dt.date(2026, 3, 4), [0, 3])  # Wednesday start
    assert plan[0].date == dt.date(2026, 3, 5)


def test_it_refuses_too_few_weekdays():
    with pytest.raises(rules.ScheduleError):
        generate(IV, dt.date(2026, 3, 2), [0])


@pytest.mark.parametrize(
    ("tz", "start"),
    [
        (NY, dt.date(2026, 3, 2)),  # spring forward Sun 8 March 2026
        (NY, dt.date(2026, 10, 26)),  # fall back Sun 1 November 2026
        (LONDON, dt.date(2026, 3, 23)),  # spring forward Sun 29 March 2026
        (LONDON, dt.date(2026, 10, 19)),  # fall back Sun 25 October 2026
    ],
)
def test_it_keeps_nine_oclock_local_across_dst(tz, start):
    plan = generate(MDSI, start, [0, 3], tz=tz)
    assert {p.start.astimezone(tz).time() for p in plan} == {dt.time(9)}
    offsets = {p.start.utcoffset() for p in plan}
    assert len(offsets) == 2  # the UTC time changed, the wall clock did not
    assert all(p.end - p.start == dt.timedelta(minutes=165) for p in plan)


def test_it_reports_overlap_half_open():
    t = dt.datetime(2026, 3, 2, 9, tzinfo=NY)
    h = dt.timedelta(hours=1)
    assert rules.overlaps(t, t + h, t + h / 2, t + 2 * h)
    assert not rules.overlaps(t, t + h, t + h, t + 2 * h)


@pytest.mark.parametrize(
    ("day", "at", "minutes", "code"),
    [
        (dt.date(2026, 3, 2), dt.time(9), 165, None),
        (dt.date(2026, 3, 2), dt.time(7, 30), 165, "outside_hours"),
        (dt.date(2026, 3, 2), dt.time(16), 165, "outside_hours"),
        (dt.date(2026, 3, 8), dt.time(9), 165, "closed_day"),
        (dt.date(2026, 3, 3), dt.time(9), 165, "closure_day"),
    ],
)
def test_it_checks_opening_hours(day, at, minutes, code):
    start = rules.local_datetime(day, at, NY)
    problem = rules.opening_problem(
        start, rules.session_end(start, minutes), opening_hours=MON_SAT, closures={dt.date(2026, 3, 3)}, tz=NY
    )
    assert problem == code


def test_replan_makes_up_a_missed_session_and_shifts_the_rest():
    items = [
        rules.PlannedItem(date=dt.date(2026, 3, 2), at=dt.time(9), minutes=165, min_days_between=2),  # missed Mon
        rules.PlannedItem(date=dt.date(2026, 3, 5), at=dt.time(9), minutes=165, min_days_between=2),
        rules.PlannedItem(date=dt.date(2026, 3, 9), at=dt.time(9), minutes=165, min_days_between=2),
    ]
    dates = rules.replan_dates(
        items=items,
        earliest=dt.date(2026, 3, 4),
        last_attended=dt.date(2026, 2, 26),
        opening_hours=MON_SAT,
        closures=(),
        tz=NY,
    )
    assert dates == [dt.date(2026, 3, 4), dt.date(2026, 3, 6), dt.date(2026, 3, 9)]


def test_replan_keeps_to_the_offered_weekdays():
    """A make-up for a missed Monday of a Mon/Thu course lands on Thursday, not on the
    Wednesday the patient never offered, and the rest follow on Mondays and Thursdays."""
    items = [
        rules.PlannedItem(date=dt.date(2026, 3, d), at=dt.time(9), minutes=165, min_days_between=2, per_week=2)
        for d in (2, 5, 9, 12)
    ]
    dates = rules.replan_dates(
        items=items,
        earliest=dt.date(2026, 3, 4),
        last_attended=dt.date(2026, 2, 26),
        opening_hours=MON_SAT,
        closures=(),
        tz=NY,
        weekdays=[0, 3],
    )
    assert dates == [dt.date(2026, 3, 5), dt.date(2026, 3, 9), dt.date(2026, 3, 12), dt.date(2026, 3, 16)]


def test_replan_never_puts_more_sessions_in_a_week_than_the_phase_allows():
    """Twice a week: Monday was attended and the missed session is made up on Wednesday, so the
    Friday session moves to the next Monday instead of a third dose that week."""
    items = [
        rules.PlannedItem(date=dt.date(2026, 3, d), at=dt.time(9), minutes=165, min_days_between=2, per_week=2)
        for d in (4, 6)
    ]
    dates = rules.replan_dates(
        items=items,
        earliest=dt.date(2026, 3, 4),
        last_attended=dt.date(2026, 3, 2),
        opening_hours=MON_SAT,
        closures=(),
        tz=NY,
        kept=[dt.date(2026, 3, 2)],
    )
    assert dates == [dt.date(2026, 3, 4), dt.date(2026, 3, 9)]
