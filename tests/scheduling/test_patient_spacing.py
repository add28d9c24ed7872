"""Patient-level spacing: one active course per patient and drug, and no booking, move or
re-plan puts two of the patient's doses closer than the protocol's minimum gap, across
courses too. Each refusal names what it collides with and writes nothing."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from scheduling import services
from scheduling.models import Course, Session, SessionStatus
from tests.scheduling.booking_helpers import MONDAY, at, book, chair, make_course, setup_data, wizard_url

pytestmark = pytest.mark.django_db

TUESDAY, WEDNESDAY, THURSDAY = (MONDAY + dt.timedelta(days=n) for n in (1, 2, 3))


def confirm_data(preview, site, **overrides) -> dict:
    rows = preview.context["formset"].initial
    data = setup_data(site, step="confirm", **{"rows-TOTAL_FORMS": len(rows), "rows-INITIAL_FORMS": len(rows)})
    for i, row in enumerate(rows):
        data[f"rows-{i}-include"] = "on"
        data[f"rows-{i}-date"] = row["date"].isoformat()
        data[f"rows-{i}-time"] = row["time"].strftime("%H:%M")
        data[f"rows-{i}-chair"] = row["chair"]
    data.update(overrides)
    return data


def counts():
    return Course.objects.count(), Session.objects.count()


# --- One active course per patient and drug --------------------------------------------


def test_a_second_course_of_the_same_drug_is_refused_with_a_link(client_for, scheduler, site, patient, course):
    before = counts()
    response = client_for(scheduler).post(wizard_url(patient), setup_data(site))
    assert response.status_code == 200
    html = response.content.decode()
    assert f"{patient.full_name} already has an active esketamine nasal spray course" in html
    assert "stop it before starting another." in html
    assert f'href="{course.get_absolute_url()}">Open the active course' in html
    assert counts() == before


def test_the_confirm_step_refuses_it_too(client_for, scheduler, site, patient, frozen_now):
    client = client_for(scheduler)
    preview = client.post(wizard_url(patient), setup_data(site))
    existing = make_course(patient, scheduler)  # started in another tab meanwhile
    before = counts()
    response = client.post(wizard_url(patient), confirm_data(preview, site))
    assert response.status_code == 200
    assert "already has an active esketamine nasal spray course" in response.content.decode()
    assert counts() == before
    assert list(Course.objects.filter(patient=patient)) == [existing]


def test_the_database_holds_one_active_course_per_patient_and_drug(patient, scheduler, course):
    with pytest.raises(IntegrityError, match="course_one_active_per_drug"), transaction.atomic():
        make_course(patient, scheduler, slug="esketamine-mdsi")
    make_course(patient, scheduler, slug="iv-ketamine")  # another drug
    make_course(patient, scheduler, slug="esketamine-mdsi", status=Course.Status.STOPPED)
    assert Course.objects.get(pk=course.pk).drug == "esketamine"


def test_stopping_a_course_cancels_what_is_to_come_and_frees_the_patient(client_for, scheduler, site, patient, course):
    upcoming = book(course, chair(site, 1), at(MONDAY, 9))
    client = client_for(scheduler)
    response = client.post(reverse("scheduling:course-stop", args=[course.pk]), {"reason": "Switched treatment"})
    assert response.status_code == 302
    course.refresh_from_db()
    upcoming.refresh_from_db()
    assert course.status == Course.Status.STOPPED
    assert (upcoming.status, upcoming.cancel_reason) == (SessionStatus.CANCELLED, "Course stopped: Switched treatment")
    preview = client.post(wizard_url(patient), setup_data(site))
    assert "Check the proposed sessions" in preview.content.decode()


def test_stopping_needs_a_reason(client_for, scheduler, site, course):
    session = book(course, chair(site, 1), at(MONDAY, 9))
    response = client_for(scheduler).post(reverse("scheduling:course-stop", args=[course.pk]), {"reason": " "})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    course.refresh_from_db()
    session.refresh_from_db()
    assert (course.status, session.status) == (Course.Status.ACTIVE, SessionStatus.BOOKED)


# --- The minimum gap between doses -----------------------------------------------------


def test_a_move_next_to_another_dose_is_refused_naming_it(client_for, scheduler, site, course):
    book(course, chair(site, 1), at(MONDAY, 9))
    thursday = book(course, chair(site, 1), at(THURSDAY, 9), sequence=2)
    response = client_for(scheduler).post(
        reverse("scheduling:session-move", args=[thursday.pk]),
        {"version": thursday.version, "date": TUESDAY.isoformat(), "time": "14:00", "chair": chair(site, 2).pk},
    )
    assert response.status_code == 200
    assert (
        f"Too close to {course.patient.full_name}&#x27;s session on Mon 1 Mar 2027 at 09:00: "
        "doses must be at least 2 days apart." in response.content.decode()
    )
    thursday.refresh_from_db()
    assert (thursday.start, thursday.chair, thursday.version) == (at(THURSDAY, 9), chair(site, 1), 1)


def test_two_days_apart_is_allowed(course, site):
    book(course, chair(site, 1), at(MONDAY, 9))
    assert book(course, chair(site, 1), at(WEDNESDAY, 9), sequence=2).pk


def test_the_gap_holds_across_courses_in_the_wizard(client_for, scheduler, site, patient, frozen_now):
    iv = make_course(patient, scheduler, slug="iv-ketamine")
    book(iv, chair(site, 2), at(TUESDAY, 13))
    client = client_for(scheduler)
    preview = client.post(wizard_url(patient), setup_data(site))
    too_close = "Too close to " + patient.full_name + "&#x27;s session on Tue 2 Mar 2027 at 13:00"
    assert too_close in preview.content.decode()  # the Monday row, beside it
    before = counts()
    response = client.post(wizard_url(patient), confirm_data(preview, site))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Nothing was booked: fix the sessions marked below" in html
    assert too_close in html
    assert counts() == before


def test_a_replan_does_not_put_the_make_up_next_to_another_courses_dose(client_for, scheduler, site, patient, course):
    missed = book(course, chair(site, 1), at(MONDAY, 9))
    iv = make_course(patient, scheduler, slug="iv-ketamine")
    book(iv, chair(site, 2), at(WEDNESDAY, 9))
    with time_machine.travel(at(MONDAY, 12), tick=False):
        services.session_mark_no_show(session=missed, version=missed.version)
        before = counts()
        client = client_for(scheduler)
        response = client.post(
            reverse("scheduling:course-replan", args=[course.pk]), {"session": missed.pk}, follow=True
        )
    assert "Too close to " + patient.full_name + "&#x27;s session on Wed 3 Mar 2027 at 09:00" in (
        response.content.decode()
    )
    assert counts() == before
    assert not Session.objects.filter(replaces=missed).exists()


def test_the_service_refuses_a_consecutive_day_across_courses(course, site, scheduler, patient):
    iv = make_course(patient, scheduler, slug="iv-ketamine")
    book(iv, chair(site, 2), at(TUESDAY, 9))
    with pytest.raises(ValidationError) as exc:
        book(course, chair(site, 1), at(WEDNESDAY, 9))
    assert {e.code for e in exc.value.error_list} == {"dose_too_close"}


def test_a_cancelled_or_missed_session_gave_no_dose(course, site):
    first = book(course, chair(site, 1), at(MONDAY, 9))
    services.session_cancel(session=first, reason="Flu", version=first.version)
    assert book(course, chair(site, 1), at(TUESDAY, 9), sequence=2).pk


def test_a_garbled_session_id_in_a_replan_is_not_found(client_for, scheduler, course):
    response = client_for(scheduler).post(reverse("scheduling:course-replan", args=[course.pk]), {"session": "abc"})
    assert response.status_code == 404
