"""Bounded input on the scheduling pages: session days within the next two years, far-past
and far-future days in any date field or query parameter answered with a message (never a
server error), free text of a bounded length and without invisible format characters, the
patient's link included. Each refusal leaves the database as it was."""

import datetime as dt

import pytest
import time_machine
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.forms import modelform_factory
from django.urls import reverse

from scheduling.links import confirm_token
from scheduling.models import Course, Protocol, Session, SessionStatus, TransportArrangement
from tests.scheduling.booking_helpers import MONDAY, NOW, at, book, chair, wizard_url

pytestmark = pytest.mark.django_db

RLO = "\u202e"  # right-to-left override
BAD_DAYS = ["9999-12-31", "0001-01-01", "2029-02-27"]  # the last: one day past two years from 26 Feb 2027


@pytest.fixture
def session(course, site):
    return book(course, chair(site, 3), at(MONDAY, 9))


def snapshot(session):
    session.refresh_from_db()
    return session.start, session.planned_end, session.chair_id, session.status, session.version


# --- Days --------------------------------------------------------------------------------


@pytest.mark.parametrize("day", BAD_DAYS)
def test_a_move_out_of_range_is_refused_beside_the_date(client_for, scheduler, site, session, day):
    before = snapshot(session)
    response = client_for(scheduler).post(
        reverse("scheduling:session-move", args=[session.pk]),
        {"version": session.version, "date": day, "time": "09:00", "chair": chair(site, 3).pk},
    )
    assert response.status_code == 200
    assert response.context["move_form"].has_error("date", "out_of_range")
    assert "Choose a day from 26 Feb 2027 up to 26 Feb 2029." in response.content.decode()
    assert snapshot(session) == before


def test_the_last_day_of_the_two_years_can_be_booked(course, site):
    assert book(course, chair(site, 1), at(dt.date(2029, 2, 26), 9)).pk


def test_the_service_refuses_a_session_past_two_years(course, site):
    with pytest.raises(ValidationError) as exc:
        book(course, chair(site, 1), at(dt.date(2029, 2, 27), 9))
    assert {e.code for e in exc.value.error_list} == {"too_far"}
    assert not Session.objects.exists()


@pytest.mark.parametrize("day", BAD_DAYS)
def test_a_course_start_out_of_range_is_refused(client_for, scheduler, site, patient, frozen_now, day):
    data = {
        "step": "preview",
        "protocol": Protocol.objects.get(slug="esketamine-trd").pk,
        "start_date": day,
        "weekdays": ["0", "3"],
        "start_time": "09:00",
        "chair": chair(site, 3).pk,
    }
    response = client_for(scheduler).post(wizard_url(patient), data)
    assert response.status_code == 200
    assert response.context["form"].has_error("start_date", "out_of_range")
    assert not Course.objects.exists() and not Session.objects.exists()


def test_a_proposed_row_moved_out_of_range_books_nothing(client_for, scheduler, site, patient, frozen_now):
    client = client_for(scheduler)
    url = wizard_url(patient)
    setup = {
        "protocol": Protocol.objects.get(slug="esketamine-mdsi").pk,
        "start_date": MONDAY.isoformat(),
        "weekdays": ["0", "3"],
        "start_time": "09:00",
        "chair": chair(site, 3).pk,
    }
    rows = client.post(url, {**setup, "step": "preview"}).context["formset"].initial
    data = {**setup, "step": "confirm", "rows-TOTAL_FORMS": len(rows), "rows-INITIAL_FORMS": len(rows)}
    for i, row in enumerate(rows):
        data |= {f"rows-{i}-include": "on", f"rows-{i}-time": "09:00", f"rows-{i}-chair": row["chair"]}
        data[f"rows-{i}-date"] = row["date"].isoformat()
    data["rows-2-date"] = "9999-12-31"
    response = client.post(url, data)
    assert response.status_code == 200
    assert "Choose a day from 26 Feb 2027 up to 26 Feb 2029." in response.content.decode()
    assert not Course.objects.exists() and not Session.objects.exists()


@pytest.mark.parametrize(("page", "param"), [("scheduling:day", "date"), ("scheduling:week", "start")])
@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1999-12-31", "garbage", "2027-13-45"])
def test_schedule_pages_answer_any_day_in_the_query(client_for, nurse, site, frozen_now, page, param, day):
    response = client_for(nurse).get(reverse(page), {param: day})
    assert response.status_code == 200
    html = response.content.decode()
    if day[:4].isdigit() and day[5:7] != "13":
        assert "The schedule shows days from 26 Feb 2017 up to 26 Feb 2029: showing today." in html
    assert "Fri 26 Feb" in html or "Friday 26 February 2027" in html


def test_the_schedule_still_shows_a_day_inside_the_range(client_for, nurse, site, frozen_now):
    response = client_for(nurse).get(reverse("scheduling:day"), {"date": "2028-06-01"})
    assert "Thursday 1 June 2028" in response.content.decode()


# --- Free text ---------------------------------------------------------------------------


def test_a_cancel_reason_is_stored_without_invisible_characters(client_for, scheduler, session):
    client_for(scheduler).post(
        reverse("scheduling:session-cancel", args=[session.pk]), {"version": session.version, "reason": f"Fl{RLO}u"}
    )
    session.refresh_from_db()
    assert (session.status, session.cancel_reason) == (SessionStatus.CANCELLED, "Flu")


def test_an_overlong_cancel_reason_is_refused(client_for, scheduler, session):
    before = snapshot(session)
    response = client_for(scheduler).post(
        reverse("scheduling:session-cancel", args=[session.pk]), {"version": session.version, "reason": "x" * 256}
    )
    assert response.status_code == 200
    assert response.context["cancel_form"].has_error("reason", "max_length")
    assert snapshot(session) == before


def test_the_ride_form_strips_invisible_characters(client_for, scheduler, session):
    response = client_for(scheduler).post(
        reverse("scheduling:session-transport", args=[session.pk]),
        {
            "kind": "escort",
            "name": f"Jordan {RLO}Example",
            "phone": f"{RLO}(212) 555-0199",
            "relationship": f"Par{RLO}tner",
        },
    )
    assert response.status_code == 302
    transport = TransportArrangement.objects.get(session=session)
    assert (transport.name, transport.phone, transport.relationship) == ("Jordan Example", "+12125550199", "Partner")


@pytest.mark.parametrize(("field", "length"), [("name", 121), ("relationship", 61), ("booking_reference", 61)])
def test_an_overlong_ride_field_is_refused(client_for, scheduler, session, field, length):
    before = list(TransportArrangement.objects.filter(session=session).values())
    data = {"kind": "escort", "name": "Jordan Example", "phone": "(212) 555-0199", "relationship": "Partner"}
    data[field] = "x" * length
    response = client_for(scheduler).post(reverse("scheduling:session-transport", args=[session.pk]), data)
    assert response.status_code == 200
    assert response.context["transport_form"].has_error(field, "max_length")
    assert list(TransportArrangement.objects.filter(session=session).values()) == before


def test_a_stop_reason_is_bounded_and_stripped(client_for, scheduler, course, session):
    client = client_for(scheduler)
    url = reverse("scheduling:course-stop", args=[course.pk])
    response = client.post(url, {"reason": "x" * 201})
    assert response.context["stop_form"].has_error("reason", "max_length")
    course.refresh_from_db()
    assert course.status == Course.Status.ACTIVE
    client.post(url, {"reason": f"Switched{RLO} treatment"})
    session.refresh_from_db()
    assert session.cancel_reason == "Course stopped: Switched treatment"


def test_protocol_notes_are_bounded_in_forms_and_the_database():
    protocol = Protocol.objects.get(slug="esketamine-trd")
    form = modelform_factory(Protocol, fields=["notes"])({"notes": "x" * 2001}, instance=protocol)
    assert form.has_error("notes", "max_length")
    with pytest.raises(IntegrityError, match="protocol_notes_max_length"), transaction.atomic():
        Protocol.objects.filter(pk=protocol.pk).update(notes="x" * 2001)
    protocol.notes = f"Weekly{RLO}"
    protocol.save()
    protocol.refresh_from_db()
    assert protocol.notes == "Weekly"


# --- The patient's link ------------------------------------------------------------------


@pytest.fixture
def link(session):
    cache.clear()
    return f"/c/{confirm_token(session.pk)}/"


def test_the_link_stores_the_escort_without_invisible_characters(client, session, link):
    with time_machine.travel(NOW, tick=False):
        response = client.post(link, {"name": f"{RLO}Jordan Example", "phone": "(212) 555-0199"})
    assert response.status_code == 302
    transport = TransportArrangement.objects.get(session=session)
    assert transport.name == "Jordan Example"


def test_the_link_refuses_an_overlong_name(client, session, link):
    before = list(TransportArrangement.objects.filter(session=session).values())
    with time_machine.travel(NOW, tick=False):
        response = client.post(link, {"name": "x" * 121, "phone": "(212) 555-0199"})
    assert response.status_code == 200
    assert response.context["form"].has_error("name", "max_length")
    assert list(TransportArrangement.objects.filter(session=session).values()) == before
