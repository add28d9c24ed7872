"""Every write to the schedule is in the audit trail, whoever calls the service: a page, a task
or the shell."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from clinic.models import AuditEvent
from scheduling import services
from scheduling.models import Protocol, SessionStatus
from tests import factories
from tests.scheduling.booking_helpers import MONDAY, at, book, chair

pytestmark = pytest.mark.django_db


def test_it_audits_a_booking_made_outside_a_page(course, site, scheduler):
    session = services.session_book(
        course=course,
        chair=chair(site, 1),
        start=at(MONDAY, 9),
        user=scheduler,
    )
    event = AuditEvent.objects.get(action="create", object_type="session", object_id=str(session.pk))
    assert event.username == "scheduler"
    assert event.patient_id == course.patient_id
    assert event.path == ""


def test_it_audits_a_cancellation_made_outside_a_page(course, site, scheduler):
    session = book(course, chair(site, 1), at(MONDAY, 9))
    services.session_cancel(session=session, reason="Flu", version=session.version, user=scheduler)
    session.refresh_from_db()
    assert session.status == SessionStatus.CANCELLED
    event = AuditEvent.objects.get(action="update", object_id=str(session.pk), summary__action="cancel")
    assert event.username == "scheduler"
    assert event.patient_id == session.patient_id


def test_it_audits_a_move_and_a_ride_made_outside_a_page(course, site, scheduler):
    session = book(course, chair(site, 1), at(MONDAY, 9))
    services.session_move(
        session=session, start=at(MONDAY, 13), chair=chair(site, 2), version=session.version, user=scheduler
    )
    services.transport_record(session=session, kind="escort", name="Sam", confirmed=True, user=scheduler)
    actions = list(
        AuditEvent.objects.filter(action="update", object_id=str(session.pk))
        .order_by("pk")
        .values_list("summary__action", flat=True)
    )
    assert actions == ["move", "transport"]
    move = AuditEvent.objects.get(summary__action="move", object_id=str(session.pk))
    assert move.summary["chair"] == chair(site, 2).pk
    assert move.summary["changes"] == {
        "chair": [chair(site, 1).name, chair(site, 2).name],
        "start": [at(MONDAY, 9).astimezone(dt.UTC).isoformat(), at(MONDAY, 13).astimezone(dt.UTC).isoformat()],
    }


def test_it_audits_a_no_show_and_the_replan_made_outside_a_page(course, site, scheduler):
    session = book(course, chair(site, 1), at(MONDAY, 9))
    with time_machine.travel(at(MONDAY, 12), tick=False):
        services.session_mark_no_show(session=session, version=session.version, user=scheduler)
        changed = services.course_replan(course=course, missed=session, user=scheduler)
    assert AuditEvent.objects.filter(object_id=str(session.pk), summary__action="no_show").count() == 1
    replan = AuditEvent.objects.get(object_type="course", object_id=str(course.pk), summary__action="replan")
    assert replan.summary["missed"] == session.pk
    assert replan.summary["sessions"] == [s.pk for s in changed]
    assert replan.username == "scheduler"


def test_a_page_write_has_one_audit_row_with_the_address_and_page(client_for, scheduler, course, site, frozen_now):
    session = book(course, chair(site, 3), at(MONDAY, 9))
    url = reverse("scheduling:session-cancel", args=[session.pk])
    response = client_for(scheduler).post(url, {"version": session.version, "reason": "Flu"})
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="update", object_id=str(session.pk))
    assert event.summary == {
        "action": "cancel",
        "changes": {"status": ["booked", "cancelled"], "cancel_reason": ["", "Flu"]},
    }
    assert event.path == url
    assert event.username == "scheduler"


def test_starting_a_course_from_the_shell_is_audited(patient, site, scheduler, frozen_now):
    factories.make_trd_history(patient, scheduler)
    protocol = Protocol.objects.get(slug="esketamine-trd")
    phase = protocol.phases.first()
    course = services.course_confirm(
        patient=patient,
        protocol=protocol,
        site=site,
        start_date=MONDAY,
        weekdays=[0, 3],
        start_time=dt.time(9),
        preferred_chair=chair(site, 1),
        bookings=[
            services.PlannedBooking(
                start=at(MONDAY + dt.timedelta(days=3 * n), 9),
                chair=chair(site, 1),
                phase_order=phase.order,
                sequence=n + 1,
            )
            for n in range(2)
        ],
        user=scheduler,
    )
    event = AuditEvent.objects.get(action="create", object_type="course", object_id=str(course.pk))
    assert (event.summary["protocol"], event.summary["sessions"]) == ("esketamine-trd", 2)
    assert event.summary["changes"] == {
        "protocol": [None, protocol.name],
        "site": [None, site.name],
        "preferred_chair": [None, "Chair 1"],
        "start_date": [None, MONDAY.isoformat()],
        "weekdays": [None, [0, 3]],
        "start_time": [None, "09:00:00"],
        "status": [None, "active"],
    }
    starts = [s.start.isoformat() for s in course.sessions.order_by("start")]
    assert event.summary["booked"] == [{"start": start, "chair": "Chair 1"} for start in starts]
    assert event.username == "scheduler"
