"""The course review's pure rules: the phase a running course is in, and what each decision
plans from a pause or from a running course."""

import datetime as dt

import pytest

from scheduling import rules_review as rr

PHASES = ["Induction", "Weekly", "Maintenance"]
NOW = dt.datetime(2027, 3, 12, 12, tzinfo=dt.UTC)


def day(n):
    return NOW + dt.timedelta(days=n)


@pytest.mark.parametrize(
    ("sessions", "expected"),
    [
        ([(day(-3), "Induction"), (day(-1), "Induction"), (day(2), "Weekly")], 0),  # the last started one
        ([(day(-8), "Induction"), (day(-1), "Weekly"), (day(6), "Weekly")], 1),
        ([(day(6), "Weekly"), (day(-1), "Maintenance")], 2),  # any order
        ([(day(3), "Weekly"), (day(10), "Maintenance")], 1),  # before the first dose: the next one's
        ([(day(-1), "Renamed phase"), (day(-4), "Weekly")], 1),  # a phase no longer there is passed over
        ([], 0),
        ([(NOW, "Weekly")], 1),  # a session starting now has started
    ],
)
def test_the_current_phase_comes_from_the_sessions(sessions, expected):
    assert rr.current_phase_index(PHASES, sessions, NOW) == expected


def test_a_protocol_without_phases_has_no_current_phase():
    assert rr.current_phase_index([], [(day(-1), "Induction")], NOW) is None


@pytest.mark.parametrize(
    ("decision", "index", "paused", "expected"),
    [
        ("continue", 1, True, 1),  # the reviewed phase again
        ("continue", 1, False, None),  # the booked plan stays
        ("extend", 1, False, 1),
        ("step_back", 1, False, 0),
        ("step_back", 2, True, 1),
        ("next", 0, False, 1),
        ("next", 1, True, 2),
        ("stop", 1, False, None),
        ("stop", 1, True, None),
    ],
)
def test_what_each_decision_plans(decision, index, paused, expected):
    assert rr.plan_from(decision, index=index, count=3, paused=paused) == expected


@pytest.mark.parametrize(
    ("decision", "index", "paused", "code"),
    [
        ("step_back", 0, False, "no_previous_phase"),
        ("next", 2, True, "no_next_phase"),
        ("extend", 1, True, "extend_at_pause"),
        ("explode", 1, False, "unknown_decision"),
        ("extend", None, False, "no_phase"),
    ],
)
def test_decisions_the_position_does_not_allow(decision, index, paused, code):
    with pytest.raises(rr.ReviewNotAllowed) as exc:
        rr.plan_from(decision, index=index, count=3, paused=paused)
    assert exc.value.code == code


def test_the_choices_offered_follow_the_position():
    running_first = [value for value, _ in rr.allowed_decisions(index=0, count=3, paused=False)]
    assert running_first == ["continue", "extend", "next", "stop"]
    paused_last = [value for value, _ in rr.allowed_decisions(index=2, count=3, paused=True)]
    assert paused_last == ["continue", "step_back", "stop"]
