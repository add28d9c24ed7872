"""A worsening score puts the running course on the prescribers' review worklist (its sessions
untouched), with the reason, who and when; the review page shows the scores beside the
decision; each decision acts on the booked sessions; one flag per score, cleared by a
correction that is no longer worsening."""

import datetime as dt

import pytest
import time_machine
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from clinic.models import AuditEvent
from monitoring import services_outcomes
from scheduling import selectors, services
from scheduling.models import Course, CourseReview, CourseReviewFlag, SessionStatus
from tests.scheduling.booking_helpers import MONDAY, NY, at, book, chair, frozen_now, make_course  # noqa: F401

from .test_outcomes import answers_post, questions_url

pytestmark = pytest.mark.django_db

INDUCTION, WEEKLY, MAINTENANCE = "Induction (weeks 1-4)", "Weekly (weeks 5-8)", "Maintenance (every 2 weeks)"
AFTER_SESSION_4 = dt.datetime(2027, 3, 12, 12, 0, tzinfo=NY)  # Friday; the 4th dose was on Thursday 11
AFTER_SESSION_9 = dt.datetime(2027, 4, 2, 12, 0, tzinfo=NY)  # Friday; the first weekly dose was on Thursday 1


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()


@pytest.fixture
def trd(patient, scheduler, site, frozen_now):  # noqa: F811
    """A treatment-resistant depression course on Mondays and Thursdays at 09:00: its eight
    induction sessions and four weekly ones (Thursdays) booked."""
    course = make_course(patient, scheduler, slug="esketamine-trd")
    induction, weekly = course.protocol.phases.get(order=1), course.protocol.phases.get(order=2)
    days = [(d, induction) for d in (0, 3, 7, 10, 14, 17, 21, 24)] + [(d, weekly) for d in (31, 38, 45, 52)]
    for n, (d, phase) in enumerate(days, start=1):
        book(course, chair(site, 2), at(MONDAY + dt.timedelta(days=d), 9), phase=phase, sequence=n)
    return course


def session_no(course, n):
    return course.sessions.get(sequence=n)


def madrs(total):
    answers = [0] * 10
    for i in range(total):
        answers[i % 10] += 1
    return answers


def rate(course, n, total, nurse):
    return services_outcomes.rating_record(
        session=session_no(course, n), user=nurse, instrument="madrs", answers=madrs(total)
    )


@pytest.fixture
def flagged(trd, nurse):
    """MADRS 20 at the first session, 26 at the fourth: worse by the scale's 6 points."""
    rate(trd, 1, 20, nurse)
    rate(trd, 4, 26, nurse)
    return trd


def booked(course):
    return list(course.sessions.filter(status=SessionStatus.BOOKED).order_by("start").values_list("pk", "start"))


def decide(client, course, decision, note=""):
    return client.post(reverse("scheduling:course-review", args=[course.pk]), {"decision": decision, "note": note})


def test_a_worsening_madrs_puts_the_running_course_on_the_worklist(
    client_for, flagged, nurse, prescriber, django_assert_max_num_queries
):
    flag = CourseReviewFlag.objects.get(course=flagged)
    assert (flag.reason, flag.raised_by, flag.session) == (
        "MADRS 20 -> 26 since the baseline (worse by 6 or more)",
        nurse,
        session_no(flagged, 4),
    )
    assert flag.detail | {"score": 0} == {
        "instrument": "madrs",
        "baseline": 20,
        "current": 26,
        "threshold": 6,
        "score": 0,
        "version": 1,
    }
    assert AuditEvent.objects.filter(object_type="coursereviewflag", summary__action="flag", user=nurse).exists()
    course_page = client_for(nurse).get(flagged.get_absolute_url()).content.decode()
    assert "On the prescribers' review worklist: MADRS 20 -&gt; 26 since the baseline" in course_page
    flagged.refresh_from_db()
    assert flagged.review_phase_order is None  # not paused
    assert flagged.sessions.filter(status=SessionStatus.BOOKED).count() == 12  # nothing cancelled
    client = client_for(prescriber)
    client.get(reverse("scheduling:review-list"))
    with django_assert_max_num_queries(15):
        page = client.get(reverse("scheduling:review-list")).content.decode()
    assert flagged.patient.full_name in page
    assert "MADRS 20 -&gt; 26 since the baseline" in page
    assert "Thu 11 Mar 09:00" in page  # the session the score is for
    assert reverse("scheduling:course-review", args=[flagged.pk]) in page
    review = client.get(reverse("scheduling:course-review", args=[flagged.pk])).content.decode()
    assert "Flagged for review:" in review and "Rated by" in review
    assert f"now in <strong>{INDUCTION}</strong>" in review
    assert "Worsening at week 2: MADRS 20 -&gt; 26, +30%" in review  # the trend beside the decision
    for offered in ("Continue unchanged", "Extend the current phase", "Go on to the next phase now", "Stop"):
        assert offered in review
    assert "Step back to the previous frequency" not in review  # induction is the first phase


def test_a_worsening_phq9_from_the_patient_is_one_flag_that_a_correction_clears(client, client_for, trd, prescriber):
    first, third = session_no(trd, 1), session_no(trd, 3)
    client.post(questions_url(first), answers_post(phq9=(1,) * 5 + (0,) * 4))  # 5: the baseline
    client.post(questions_url(third), answers_post(phq9=(2,) * 5 + (0,) * 4))  # 10: worse by 5
    flag = CourseReviewFlag.objects.get(course=trd)
    assert flag.raised_by is None and "PHQ-9 5 -> 10" in flag.reason
    page = client_for(prescriber).get(reverse("scheduling:review-list")).content.decode()
    assert "PHQ-9 5 -&gt; 10 since the baseline" in page and "Patient's answers" in page
    # Changed again, still worse: the same flag, brought up to date.
    client.post(questions_url(third), answers_post(phq9=(2,) * 6 + (0,) * 3))
    assert CourseReviewFlag.objects.count() == 1
    flag.refresh_from_db()
    assert "PHQ-9 5 -> 12" in flag.reason and flag.is_open
    # Corrected to 7: no longer worse by 5, so the course leaves the worklist.
    client.post(questions_url(third), answers_post(phq9=(1,) * 7 + (0,) * 2))
    flag.refresh_from_db()
    assert flag.cleared_at is not None and "corrected to 7" in flag.cleared_reason
    assert selectors.reviews_pending() == []
    worklist = client_for(prescriber).get(reverse("scheduling:review-list")).content.decode()
    assert "No course is waiting for a review." in worklist
    # Worse again: the same row, open again.
    client.post(questions_url(third), answers_post(phq9=(2,) * 5 + (1,) + (0,) * 3))
    assert CourseReviewFlag.objects.count() == 1
    flag.refresh_from_db()
    assert flag.is_open and [c.pk for c in selectors.reviews_pending()] == [trd.pk]


def test_continue_unchanged_keeps_the_booked_sessions_and_clears_the_flag(client_for, flagged, prescriber, nurse):
    before = booked(flagged)
    with time_machine.travel(AFTER_SESSION_4, tick=False):
        response = decide(client_for(prescriber), flagged, "continue", "discussed; sleep poor this week")
    assert response.status_code == 302
    assert booked(flagged) == before
    review = CourseReview.objects.get(course=flagged)
    assert (review.decision, review.phase_name, review.decided_by) == ("continue", INDUCTION, prescriber)
    flag = CourseReviewFlag.objects.get(course=flagged)
    assert flag.review == review and not flag.is_open
    assert selectors.reviews_pending() == []
    event = AuditEvent.objects.get(object_type="course", summary__action="review")
    assert event.summary["flags"] == [flag.pk] and event.summary["booked"] == []
    # A decided score is not flagged again by a later correction (its alert still goes out).
    rate(flagged, 4, 28, nurse)
    assert CourseReviewFlag.objects.get().review == review
    assert selectors.reviews_pending() == []


def _new_sessions(course, after_sequence=12):
    return list(course.sessions.filter(sequence__gt=after_sequence).order_by("start"))


def test_extend_plans_the_current_phase_again_in_full(client_for, flagged, prescriber):
    with time_machine.travel(AFTER_SESSION_4, tick=False):
        assert decide(client_for(prescriber), flagged, "extend", "partial response").status_code == 302
    cancelled = flagged.sessions.filter(status=SessionStatus.CANCELLED)
    assert sorted(cancelled.values_list("sequence", flat=True)) == list(range(5, 13))
    assert {s.cancel_reason for s in cancelled} == {"Re-planned after the prescriber's review"}
    new = _new_sessions(flagged)
    assert [s.phase_name for s in new] == [INDUCTION] * 8 + [WEEKLY] * 4 + [MAINTENANCE] * 8
    assert new[0].start.astimezone(NY).date() == dt.date(2027, 3, 15)  # Monday after Thursday's dose
    assert [s.sequence for s in new] == list(range(13, 33))
    assert CourseReview.objects.get(course=flagged).decision == "extend"
    assert not CourseReviewFlag.objects.get(course=flagged).is_open


def test_next_phase_plans_from_the_phase_after_the_current_one(client_for, flagged, prescriber):
    with time_machine.travel(AFTER_SESSION_4, tick=False):
        assert decide(client_for(prescriber), flagged, "next").status_code == 302
    assert flagged.sessions.filter(status=SessionStatus.CANCELLED).count() == 8
    new = _new_sessions(flagged)
    assert [s.phase_name for s in new] == [WEEKLY] * 4 + [MAINTENANCE] * 8
    days = [dt.date(2027, 3, 11)] + [s.start.astimezone(NY).date() for s in new]
    assert min((b - a).days for a, b in zip(days, days[1:5], strict=False)) >= 5


def test_step_back_plans_from_the_phase_before_the_current_one(client_for, trd, nurse, prescriber):
    rate(trd, 1, 20, nurse)
    rate(trd, 9, 27, nurse)  # the first weekly session
    with time_machine.travel(AFTER_SESSION_9, tick=False):
        review = client_for(prescriber).get(reverse("scheduling:course-review", args=[trd.pk])).content.decode()
        assert f"now in <strong>{WEEKLY}</strong>" in review
        assert "Step back to the previous frequency" in review
        assert decide(client_for(prescriber), trd, "step_back", "worse since the weekly doses").status_code == 302
    cancelled = trd.sessions.filter(status=SessionStatus.CANCELLED)
    assert sorted(cancelled.values_list("sequence", flat=True)) == [10, 11, 12]
    new = _new_sessions(trd)
    assert [s.phase_name for s in new] == [INDUCTION] * 8 + [WEEKLY] * 4 + [MAINTENANCE] * 8
    days = [dt.date(2027, 4, 1)] + [s.start.astimezone(NY).date() for s in new[:8]]
    assert min((b - a).days for a, b in zip(days, days[1:], strict=False)) >= 2
    assert {d.weekday() for d in days[1:]} == {0, 3}


def test_stop_cancels_what_is_still_to_come(client_for, flagged, prescriber):
    with time_machine.travel(AFTER_SESSION_4, tick=False):
        client = client_for(prescriber)
        assert "Write why the course stops." in decide(client, flagged, "stop").content.decode()
        assert decide(client, flagged, "stop", "worse; referred for inpatient care").status_code == 302
    flagged.refresh_from_db()
    assert flagged.status == Course.Status.STOPPED
    assert flagged.sessions.filter(status=SessionStatus.CANCELLED).count() == 8
    assert flagged.sessions.filter(status=SessionStatus.BOOKED).count() == 4  # those before the decision
    assert CourseReviewFlag.objects.get().review.decision == "stop"


def test_only_a_prescriber_decides(client_for, flagged, nurse, scheduler, prescriber):
    before = booked(flagged)
    for user in (nurse, scheduler):
        client = client_for(user)
        assert client.get(reverse("scheduling:review-list")).status_code == 403
        assert client.get(reverse("scheduling:course-review", args=[flagged.pk])).status_code == 403
        assert decide(client, flagged, "stop", "not mine to decide").status_code == 403
        with pytest.raises(PermissionDenied):
            services.course_review_decide(course=flagged, decision="next", note="", user=user)
    assert booked(flagged) == before
    assert not CourseReview.objects.exists()
    assert CourseReviewFlag.objects.get().is_open
    flagged.refresh_from_db()
    assert flagged.status == Course.Status.ACTIVE


def test_a_decision_the_position_does_not_allow_changes_nothing(flagged, prescriber):
    before = booked(flagged)
    for decision, code in (("step_back", "no_previous_phase"), ("explode", "review_not_allowed")):
        with pytest.raises(ValidationError) as exc, time_machine.travel(AFTER_SESSION_4, tick=False):
            services.course_review_decide(course=flagged, decision=decision, note="", user=prescriber)
        assert exc.value.code == code
    assert booked(flagged) == before
    assert not CourseReview.objects.exists() and CourseReviewFlag.objects.get().is_open


def test_a_decision_at_a_phase_end_also_settles_the_flags(client_for, flagged, prescriber):
    flagged.review_phase_order = 1
    flagged.save(update_fields=["review_phase_order"])
    page = client_for(prescriber).get(reverse("scheduling:course-review", args=[flagged.pk])).content.decode()
    assert "paused at the end of" in page and "Flagged for review:" in page
    assert "Extend the current phase" not in page  # at a pause, continue is the phase again
    assert [c.pk for c in selectors.reviews_pending()] == [flagged.pk]  # once, with both reasons
    with time_machine.travel(AFTER_SESSION_4, tick=False):
        assert decide(client_for(prescriber), flagged, "continue").status_code == 302
    assert not CourseReviewFlag.objects.get().is_open


def test_a_score_without_a_course_or_an_ended_course_flags_nothing(flagged, nurse):
    CourseReviewFlag.objects.all().delete()
    Course.objects.filter(pk=flagged.pk).update(status=Course.Status.COMPLETED)
    rate(flagged, 5, 30, nurse)
    assert not CourseReviewFlag.objects.exists()
