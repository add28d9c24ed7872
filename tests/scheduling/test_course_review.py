"""A phase that needs a prescriber's review pauses the course; the prescriber finds it on a
worklist and decides: continue, next phase, step back or stop. The rest of the course is
planned again with the wizard's rules."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from clinic.models import AuditEvent
from scheduling.models import Course, CourseReview, ProtocolPhase, SessionStatus
from tests.scheduling.booking_helpers import MONDAY, NY, at, book, chair, make_course

pytestmark = pytest.mark.django_db

AFTER_WEEK_4 = dt.datetime(2027, 3, 26, 10, 0, tzinfo=NY)  # Friday after the 8th session


@pytest.fixture
def paused(patient, scheduler, site, frozen_now):
    """A suicidal-ideation course, Mon/Thu at 09:00, its 8 sessions booked, paused for review."""
    course = make_course(patient, scheduler, slug="esketamine-mdsi")
    phase = course.protocol.phases.get(order=1)
    for n, d in enumerate([0, 3, 7, 10, 14, 17, 21, 24], start=1):
        book(course, chair(site, 3), at(MONDAY + dt.timedelta(days=d), 9), phase=phase, sequence=n)
    course.review_phase_order = 1
    course.save()
    return course


def decide(client, course, decision, note=""):
    return client.post(reverse("scheduling:course-review", args=[course.pk]), {"decision": decision, "note": note})


def test_the_shipped_protocol_pauses_at_week_four():
    phase = ProtocolPhase.objects.get(protocol__slug="esketamine-mdsi", order=1)
    assert phase.review_after
    gaps = dict(ProtocolPhase.objects.filter(protocol__slug="esketamine-trd").values_list("order", "min_days_between"))
    assert gaps == {1: 2, 2: 5, 3: 10}


def test_the_prescriber_sees_the_paused_course_on_the_worklist(
    client_for, prescriber, scheduler, paused, django_assert_max_num_queries
):
    client = client_for(prescriber)
    client.get(reverse("scheduling:review-list"))
    with django_assert_max_num_queries(15):
        response = client.get(reverse("scheduling:review-list"))
    html = response.content.decode()
    assert paused.patient.full_name in html
    assert "Twice weekly (weeks 1-4)" in html
    assert "Thu 25 Mar 2027 09:00" in html
    assert reverse("scheduling:course-review", args=[paused.pk]) in html
    course_page = client.get(paused.get_absolute_url()).content.decode()
    assert "Paused for the prescriber" in course_page
    assert client_for(scheduler).get(reverse("scheduling:review-list")).status_code == 403


def test_continue_plans_the_phase_again_from_the_last_dose_and_pauses_again(client_for, prescriber, paused):
    with time_machine.travel(AFTER_WEEK_4, tick=False):
        response = decide(client_for(prescriber), paused, "continue", "responding, tolerated 84 mg")
    assert response.status_code == 302
    paused.refresh_from_db()
    assert paused.review_phase_order == 1  # the next review after four more weeks
    new = list(paused.sessions.filter(sequence__gt=8).order_by("start"))
    assert len(new) == 8
    days = [s.start.astimezone(NY).date() for s in new]
    assert days[0] == dt.date(2027, 3, 29)  # Monday after the last dose on Thursday 25
    assert {d.weekday() for d in days} == {0, 3}
    assert {s.start.astimezone(NY).time() for s in new} == {dt.time(9)}
    assert [s.sequence for s in new] == list(range(9, 17))
    review = CourseReview.objects.get(course=paused)
    assert (review.decision, review.decided_by, review.note) == ("continue", prescriber, "responding, tolerated 84 mg")
    event = AuditEvent.objects.get(object_type="course", summary__action="review")
    assert event.summary["decision"] == "continue"
    assert len(event.summary["booked"]) == 8


def test_only_the_decisions_the_protocol_allows_are_offered(client_for, prescriber, paused):
    client = client_for(prescriber)
    html = client.get(reverse("scheduling:course-review", args=[paused.pk])).content.decode()
    assert "Continue at the same frequency" in html
    assert "Step back to the previous frequency" not in html  # the first phase
    assert "Go on to the next phase" not in html  # the protocol has no other
    response = decide(client, paused, "step_back")
    assert response.status_code == 200
    assert not CourseReview.objects.exists()


def test_stop_needs_a_reason_then_cancels_what_is_still_to_come(client_for, prescriber, paused):
    with time_machine.travel(dt.datetime(2027, 3, 16, 12, tzinfo=NY), tick=False):
        client = client_for(prescriber)
        response = decide(client, paused, "stop")
        assert "Write why the course stops." in response.content.decode()
        response = decide(client, paused, "stop", "no response at week 3")
    assert response.status_code == 302
    paused.refresh_from_db()
    assert paused.status == Course.Status.STOPPED
    assert paused.review_phase_order is None
    cancelled = paused.sessions.filter(status=SessionStatus.CANCELLED)
    assert cancelled.count() == 3  # Thu 18, Mon 22, Thu 25
    assert CourseReview.objects.get(course=paused).decision == "stop"


def test_step_back_and_next_phase_in_a_tapering_protocol(client_for, prescriber, scheduler, site, patient, frozen_now):
    """The treatment-resistant-depression protocol with a review after its weekly phase."""
    course = make_course(patient, scheduler, slug="esketamine-trd")
    weekly = course.protocol.phases.get(order=2)
    weekly.review_after = True
    weekly.save()
    for n, d in enumerate([0, 7, 14, 21], start=1):
        book(course, chair(site, 2), at(MONDAY + dt.timedelta(days=d), 9), phase=weekly, sequence=n)
    course.review_phase_order = 2
    course.save()
    with time_machine.travel(dt.datetime(2027, 3, 23, 12, tzinfo=NY), tick=False):  # Tue after the 4th
        assert decide(client_for(prescriber), course, "step_back", "worse since week 6").status_code == 302
    course.refresh_from_db()
    new = list(course.sessions.filter(sequence__gt=4).order_by("start"))
    phases = [s.phase_name for s in new]
    assert phases == ["Induction (weeks 1-4)"] * 8 + ["Weekly (weeks 5-8)"] * 4
    days = [s.start.astimezone(NY).date() for s in new]
    assert min((b - a).days for a, b in zip(days, days[1:], strict=False)) >= 2
    weekly_days = days[8:]
    assert (weekly_days[0] - days[7]).days >= 5
    assert course.review_phase_order == 2
    with time_machine.travel(dt.datetime(2027, 5, 20, 12, tzinfo=NY), tick=False):
        assert decide(client_for(prescriber), course, "next").status_code == 302
    course.refresh_from_db()
    maintenance = list(course.sessions.filter(phase_name="Maintenance (every 2 weeks)").order_by("start"))
    assert len(maintenance) == 8
    mdays = [s.start.astimezone(NY).date() for s in maintenance]
    assert min((b - a).days for a, b in zip(mdays, mdays[1:], strict=False)) >= 10
    assert course.review_phase_order is None


def test_bad_input_writes_nothing(client_for, prescriber, paused):
    client = client_for(prescriber)
    for data in ({"decision": "explode"}, {"decision": "continue", "note": "x" * 5000}, {}):
        response = client.post(reverse("scheduling:course-review", args=[paused.pk]), data)
        assert response.status_code == 200
    assert not CourseReview.objects.exists()
    assert paused.sessions.count() == 8
