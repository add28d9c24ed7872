"""Outcome instruments and their rules: totals, each severity band's edges, the safety item,
response / remission / worsening, weeks of a course, report rates, the rating schedule and
eligibility for a treatment-resistant depression course."""

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitoring import instruments
from monitoring import rules_outcomes as R
from monitoring.instruments import GAD7_INSTRUMENT as GAD7
from monitoring.instruments import MADRS_INSTRUMENT as MADRS
from monitoring.instruments import PHQ9_INSTRUMENT as PHQ9


def test_the_instruments_have_their_items_ranges_and_codes():
    assert (len(PHQ9.items), PHQ9.max_total, PHQ9.loinc_panel, PHQ9.loinc_total) == (9, 27, "44249-1", "44261-6")
    assert PHQ9.functional_question and len(PHQ9.functional_options) == 4
    assert (len(GAD7.items), GAD7.max_total) == (7, 21)
    assert (len(MADRS.items), MADRS.max_total, MADRS.rater) == (10, 60, instruments.CLINICIAN)
    # MADRS: item names and anchor numbers only (the wording is not free to reproduce).
    assert [o.label for o in MADRS.options] == [str(n) for n in range(7)]
    assert MADRS.items[9].text == "Suicidal thoughts"


@pytest.mark.parametrize(
    "instrument, edges",
    [
        (
            PHQ9,
            [
                (0, "Minimal"),
                (4, "Minimal"),
                (5, "Mild"),
                (9, "Mild"),
                (10, "Moderate"),
                (14, "Moderate"),
                (15, "Moderately severe"),
                (19, "Moderately severe"),
                (20, "Severe"),
                (27, "Severe"),
            ],
        ),
        (
            GAD7,
            [
                (0, "Minimal"),
                (4, "Minimal"),
                (5, "Mild"),
                (9, "Mild"),
                (10, "Moderate"),
                (14, "Moderate"),
                (15, "Severe"),
                (21, "Severe"),
            ],
        ),
        (
            MADRS,
            [
                (0, "Normal / symptom absent"),
                (6, "Normal / symptom absent"),
                (7, "Mild"),
                (19, "Mild"),
                (20, "Moderate"),
                (34, "Moderate"),
                (35, "Severe"),
                (60, "Severe"),
            ],
        ),
    ],
    ids=["phq9", "gad7", "madrs"],
)
def test_each_band_edge(instrument, edges):
    for total, label in edges:
        assert R.band(instrument, total).label == label, total


@pytest.mark.parametrize("instrument", [PHQ9, GAD7, MADRS], ids=["phq9", "gad7", "madrs"])
def test_a_total_outside_the_scale_has_no_band(instrument):
    with pytest.raises(ValueError):
        R.band(instrument, instrument.max_total + 1)
    with pytest.raises(ValueError):
        R.band(instrument, -1)


@settings(max_examples=50)
@given(st.sampled_from([PHQ9, GAD7, MADRS]), st.data())
def test_every_full_set_of_answers_scores_inside_exactly_one_band(instrument, data):
    values = [o.value for o in instrument.options]
    answers = data.draw(
        st.lists(st.sampled_from(values), min_size=len(instrument.items), max_size=len(instrument.items))
    )
    total = R.total(instrument, answers)
    assert 0 <= total <= instrument.max_total
    assert sum(b.low <= total <= b.high for b in instrument.bands) == 1


def test_missing_or_out_of_range_answers_are_named_by_item():
    assert R.answer_errors(PHQ9, [0] * 9) == {}
    assert set(R.answer_errors(PHQ9, [0] * 8)) == {9}
    assert set(R.answer_errors(PHQ9, [0, 4, 0, 0, 0, 0, 0, 0, 0])) == {2}
    assert set(R.answer_errors(MADRS, [6] * 9 + [7])) == {10}
    with pytest.raises(ValueError):
        R.total(PHQ9, [0] * 8)


def test_phq9_item_9_above_0_is_the_safety_answer():
    assert not R.safety_positive(PHQ9, [3] * 8 + [0])
    assert R.safety_positive(PHQ9, [0] * 8 + [1])
    assert not R.safety_positive(GAD7, [3] * 7)
    assert R.safety_blocks(review_pending=True) == [R.SAFETY_BLOCK]
    assert R.safety_blocks(review_pending=False) == []


def test_response_is_a_50_percent_drop_and_remission_the_scale_s_line():
    assert R.is_response(34, 17) and not R.is_response(34, 18)
    assert R.is_remission(MADRS, 10) and not R.is_remission(MADRS, 11)
    assert R.is_remission(PHQ9, 4) and not R.is_remission(PHQ9, 5)
    assert R.is_worsening(PHQ9, 10, 15) and not R.is_worsening(PHQ9, 10, 14)
    assert R.status(MADRS, 34, 15) == R.RESPONSE
    assert R.status(MADRS, 34, 10) == R.REMISSION
    assert R.status(MADRS, 20, 26) == R.WORSENING
    assert R.status(MADRS, 20, 18) == R.NO_RESPONSE
    assert R.change_percent(0, 3) is None


def test_the_status_in_words():
    assert R.status_words(MADRS, 34, 15, 4) == "Response at week 4: MADRS 34 -> 15, -56%"


START = dt.date(2026, 11, 2)


def test_weeks_of_a_course():
    assert R.course_week(START, START - dt.timedelta(days=1)) == 0
    assert R.course_week(START, START) == 1
    assert R.course_week(START, START + dt.timedelta(days=6)) == 1
    assert R.course_week(START, START + dt.timedelta(days=7)) == 2
    assert R.course_week(START, START + dt.timedelta(days=24)) == 4


def test_the_score_of_a_week_is_the_closest_within_a_week():
    points = [
        R.Point(START, 30),
        R.Point(START + dt.timedelta(days=17), 20),
        R.Point(START + dt.timedelta(days=31), 12),
    ]
    assert R.at_week(points, start=START, week=4).total == 12  # week 5 (one away) ties week 3: the later
    assert R.at_week(points, start=START, week=8) is None
    outcome = R.outcome_at_week(MADRS, points, start=START, week=4)
    assert outcome == R.WeekOutcome(missing=False, response=True, remission=False)
    assert R.outcome_at_week(MADRS, points[:1], start=START, week=4).missing


def test_rates_count_the_missing_apart():
    outcomes = [
        R.WeekOutcome(False, True, True),
        R.WeekOutcome(False, True, False),
        R.WeekOutcome(False, False, False),
        R.WeekOutcome(True),
    ]
    response, remission = R.rates(outcomes, week=4)
    assert (response.count, response.evaluable, response.missing, response.percent) == (2, 3, 1, 67)
    assert (remission.count, remission.percent) == (1, 33)
    assert R.rates([R.WeekOutcome(True)], week=8)[0].percent is None


def test_when_a_clinician_rating_is_due():
    assert R.rating_due(sequence=1, last_of_first_phase=8, every=4) == "Baseline"
    assert R.rating_due(sequence=8, last_of_first_phase=8, every=4) == "End of induction"
    assert R.rating_due(sequence=12, last_of_first_phase=8, every=4) == "Every 4 sessions"
    assert R.rating_due(sequence=5, last_of_first_phase=8, every=4) == ""
    assert R.rating_due(sequence=12, last_of_first_phase=8, every=0) == ""


def trial(weeks=8, adequate=True, failed=True, current=False):
    return R.Trial(adequate_dose=adequate, weeks=weeks, failed=failed, current=current)


def test_eligibility_needs_two_adequate_failed_trials_and_a_current_antidepressant():
    assert R.eligibility_reasons([trial(), trial(), trial(failed=False, current=True)]) == []
    reasons = R.eligibility_reasons([trial(), trial(weeks=5), trial(adequate=False), trial(failed=False)])
    assert len(reasons) == 2
    assert reasons[0].startswith("1 adequate antidepressant trial that failed")
    assert "no current oral antidepressant" in reasons[1]
    assert R.eligibility_reasons([trial(weeks=6), trial(weeks=6), trial(failed=False, current=True)]) == []
