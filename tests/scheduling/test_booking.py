"""Booking, moving, cancelling and re-planning through the services: every refusal has its
own code and changes nothing."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from clinic.models import Closure
from scheduling import services
from scheduling.models import Course, Session, SessionStatus, TransportArrangement
from tests import factories
from tests.scheduling.booking_helpers import MONDAY, at, book, chair, make_course

pytestmark = pytest.mark.django_db


def codes(exc_info) -> set[str]:
    exc = exc_info.value
    if hasattr(exc, "error_dict"):
        return {e.code for errors in exc.error_dict.values() for e in errors}
    return {e.code for e in exc.error_list}


def test_it_books_a_session_with_an_unconfirmed_ride_from_the_saved_escort(course, site):
    factories.make_escort(course.patient, name="Dana Driver")
    session = book(course, chair(site, 3), at(MONDAY, 9))
    session.refresh_from_db()
    assert session.status == SessionStatus.BOOKED
    assert session.planned_end == at(MONDAY, 11, 45)
    assert session.transport.name == "Dana Driver"
    assert session.transport.status == TransportArrangement.Status.UNCONFIRMED
    assert session.reminders.exists()


def test_it_refuses_a_taken_chair_with_a_friendly_message(course, site, scheduler):
    book(course, chair(site, 3), at(MONDAY, 9))
    other = make_course(factories.make_patient(site=site), scheduler)
    with pytest.raises(ValidationError) as exc:
        book(other, chair(site, 3), at(MONDAY, 10))
    assert codes(exc) == {"chair_taken"}
    assert "Chair 3 is taken 09:00-11:45 by another session." in exc.value.messages
    assert Session.objects.count() == 1


def test_it_allows_back_to_back_sessions_and_cancelled_slots(course, site, scheduler):
    first = book(course, chair(site, 1), at(MONDAY, 9))
    other = make_course(factories.make_patient(site=site), scheduler)
    book(other, chair(site, 1), at(MONDAY, 11, 45))
    services.session_cancel(session=first, reason="unwell", version=first.version)
    third = make_course(factories.make_patient(site=site), scheduler)
    book(third, chair(site, 1), at(MONDAY, 9))
    assert Session.objects.exclude(status=SessionStatus.CANCELLED).count() == 2


def test_it_refuses_two_overlapping_sessions_for_one_patient(course, site):
    book(course, chair(site, 1), at(MONDAY, 9))
    with pytest.raises(ValidationError) as exc:
        book(course, chair(site, 2), at(MONDAY, 10))
    assert codes(exc) == {"patient_busy", "dose_too_close"}


def test_it_refuses_the_past(course, site):
    with pytest.raises(ValidationError) as exc:
        book(course, chair(site, 1), at(MONDAY - dt.timedelta(days=7), 9))
    assert "in_past" in codes(exc)
    assert not Session.objects.exists()


@pytest.mark.parametrize(("hour", "minute"), [(7, 0), (16, 0)])
def test_it_refuses_outside_opening_hours(course, site, hour, minute):
    with pytest.raises(ValidationError) as exc:
        book(course, chair(site, 1), at(MONDAY, hour, minute))
    assert codes(exc) == {"outside_hours"}
    assert "outside opening hours (08:00-18:00)" in exc.value.messages[0]
    assert not Session.objects.exists()


def test_it_refuses_a_closed_weekday(course, site):
    with pytest.raises(ValidationError) as exc:
        book(course, chair(site, 1), at(MONDAY - dt.timedelta(days=1) + dt.timedelta(days=7), 9))  # a Sunday
    assert codes(exc) == {"closed_day"}


def test_it_refuses_a_closure_day(course, site):
    Closure.objects.create(site=site, date=MONDAY, reason="Staff training")
    with pytest.raises(ValidationError) as exc:
        book(course, chair(site, 1), at(MONDAY, 9))
    assert codes(exc) == {"closure_day"}
    assert "Staff training" in exc.value.messages[0]


def test_it_refuses_a_patient_discharged_from_the_course(course, site):
    Course.objects.filter(pk=course.pk).update(status=Course.Status.COMPLETED)
    course.refresh_from_db()
    with pytest.raises(ValidationError) as exc:
        book(course, chair(site, 1), at(MONDAY, 9))
    assert codes(exc) == {"patient_discharged"}


def test_it_refuses_an_ineligible_patient_with_the_reason(site, scheduler, frozen_now):
    patient = factories.make_patient(site=site, intracerebral_haemorrhage=True)
    with pytest.raises(ValidationError) as exc:
        book(make_course(patient, scheduler), chair(site, 1), at(MONDAY, 9))
    assert codes(exc) == {"patient_ineligible"}
    assert "intracerebral haemorrhage" in exc.value.messages[0]


def test_it_refuses_esketamine_without_rems_but_allows_iv_ketamine(site, scheduler, frozen_now):
    patient = factories.make_patient(site=site, rems_enrollment_id="", rems_enrollment_date=None)
    with pytest.raises(ValidationError) as exc:
        book(make_course(patient, scheduler), chair(site, 1), at(MONDAY, 9))
    assert codes(exc) == {"rems_not_enrolled"}
    book(make_course(patient, scheduler, slug="iv-ketamine"), chair(site, 1), at(MONDAY, 9))
    assert Session.objects.count() == 1


def test_it_moves_a_session_and_refuses_a_stale_form(course, site):
    session = book(course, chair(site, 1), at(MONDAY, 9))
    old_version = session.version
    services.session_move(session=session, start=at(MONDAY, 13), chair=chair(site, 2), version=old_version)
    session.refresh_from_db()
    assert (session.start, session.chair.name) == (at(MONDAY, 13), "Chair 2")
    assert session.planned_end == at(MONDAY, 15, 45)
    with pytest.raises(ValidationError) as exc:
        services.session_move(session=session, start=at(MONDAY, 9), chair=chair(site, 1), version=old_version)
    assert codes(exc) == {"stale"}
    session.refresh_from_db()
    assert session.start == at(MONDAY, 13)


def test_a_move_obeys_the_same_checks(course, site, scheduler):
    session = book(course, chair(site, 1), at(MONDAY, 9))
    other = book(make_course(factories.make_patient(site=site), scheduler), chair(site, 2), at(MONDAY, 13))
    with pytest.raises(ValidationError) as exc:
        services.session_move(session=session, start=at(MONDAY, 12), chair=chair(site, 2), version=session.version)
    assert codes(exc) == {"chair_taken"}
    with pytest.raises(ValidationError) as exc:
        services.session_move(session=session, start=at(MONDAY, 17), chair=chair(site, 1), version=session.version)
    assert codes(exc) == {"outside_hours"}
    session.refresh_from_db()
    assert session.start == at(MONDAY, 9)
    assert other.start == at(MONDAY, 13)


def test_it_cancels_with_a_reason_and_refuses_invalid_transitions(course, site):
    session = book(course, chair(site, 1), at(MONDAY, 9))
    services.session_cancel(session=session, reason="Patient unwell", version=session.version)
    session.refresh_from_db()
    assert session.status == SessionStatus.CANCELLED
    assert session.cancel_reason == "Patient unwell"
    with pytest.raises(ValidationError) as exc:
        services.session_mark_no_show(session=session, version=session.version)
    assert codes(exc) == {"invalid_transition"}
    assert set(session.reminders.values_list("status", flat=True)) == {"skipped"}


def test_it_marks_a_no_show_only_after_the_start(course, site, frozen_now):
    import time_machine

    session = book(course, chair(site, 1), at(MONDAY, 9))
    with pytest.raises(ValidationError) as exc:
        services.session_mark_no_show(session=session, version=session.version)
    assert codes(exc) == {"no_show_too_early"}
    with time_machine.travel(at(MONDAY, 10), tick=False):
        services.session_mark_no_show(session=session, version=session.version)
    session.refresh_from_db()
    assert session.status == SessionStatus.NO_SHOW


def test_course_confirm_is_all_or_nothing(patient, site, scheduler, frozen_now):
    from scheduling.models import Protocol

    blocker = make_course(factories.make_patient(site=site), scheduler)
    book(blocker, chair(site, 1), at(MONDAY + dt.timedelta(days=3), 10))
    factories.make_trd_history(patient, scheduler)
    protocol = Protocol.objects.get(slug="esketamine-trd")
    bookings = [
        services.PlannedBooking(
            start=at(MONDAY + dt.timedelta(days=d), 9),
            chair=chair(site, 1),
            phase_order=1,
            sequence=n,
        )
        for n, d in enumerate([0, 3, 7], start=1)
    ]
    with pytest.raises(ValidationError) as exc:
        services.course_confirm(
            patient=patient,
            protocol=protocol,
            site=site,
            start_date=MONDAY,
            weekdays=[0, 3],
            start_time=dt.time(9),
            preferred_chair=chair(site, 1),
            bookings=bookings,
            user=scheduler,
        )
    assert list(exc.value.error_dict) == ["1"]
    assert not Course.objects.filter(patient=patient).exists()
    assert not Session.objects.filter(patient=patient).exists()


def test_replan_makes_up_a_missed_session_and_keeps_the_gaps(course, site):
    import time_machine

    first = book(course, chair(site, 1), at(MONDAY, 9))
    second = book(course, chair(site, 1), at(MONDAY + dt.timedelta(days=3), 9), sequence=2)
    with time_machine.travel(at(MONDAY, 12), tick=False):
        services.session_mark_no_show(session=first, version=first.version)
        changed = services.course_replan(course=course, missed=first)
    replacement = changed[0]
    assert replacement.replaces_id == first.pk
    # The course offers Mondays and Thursdays: the make-up is on Thursday, not on the Tuesday
    # the patient never offered, and Thursday's session moves to the next Monday.
    assert replacement.start == at(MONDAY + dt.timedelta(days=3), 9)
    second.refresh_from_db()
    assert second.start == at(MONDAY + dt.timedelta(days=7), 9)
    with time_machine.travel(at(MONDAY, 12), tick=False), pytest.raises(ValidationError) as exc:
        services.course_replan(course=course, missed=first)
    assert codes(exc) == {"already_replanned"}


def test_replan_shifts_following_sessions_forward(course, site):
    import time_machine

    first = book(course, chair(site, 1), at(MONDAY, 9))
    second = book(course, chair(site, 1), at(MONDAY + dt.timedelta(days=2), 9), sequence=2)  # Wednesday
    with time_machine.travel(at(MONDAY, 12), tick=False):
        services.session_mark_no_show(session=first, version=first.version)
        services.course_replan(course=course, missed=first)
    second.refresh_from_db()
    # Thursday make-up (the next offered day) -> Wednesday's session is now before it: the next
    # offered day at least two days later is Monday.
    assert second.start == at(MONDAY + dt.timedelta(days=7), 9)


def test_transport_record_confirms_by_staff(course, site, scheduler):
    session = book(course, chair(site, 1), at(MONDAY, 9))
    services.transport_record(
        session=session, kind="ride", name="City Cabs", booking_reference="CC-1", confirmed=True, user=scheduler
    )
    session.transport.refresh_from_db()
    assert session.transport.status == TransportArrangement.Status.CONFIRMED_STAFF
    assert session.transport.confirmed_by == scheduler


def test_the_database_constraint_turns_a_race_into_the_same_message(course, site, scheduler, monkeypatch):
    book(course, chair(site, 3), at(MONDAY, 9))
    real = services.slot_problems
    calls = []

    def check_sees_nothing_first(**kwargs):  # as if the other booking committed just after our check
        calls.append(1)
        return [] if len(calls) == 1 else real(**kwargs)

    monkeypatch.setattr(services, "slot_problems", check_sees_nothing_first)
    other = make_course(factories.make_patient(site=site), scheduler)
    with pytest.raises(ValidationError) as exc:
        book(other, chair(site, 3), at(MONDAY, 10))
    assert codes(exc) == {"chair_taken"}
    assert "Chair 3 is taken 09:00-11:45 by another session." in exc.value.messages
    assert Session.objects.count() == 1
