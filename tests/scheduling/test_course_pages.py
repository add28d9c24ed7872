"""The course wizard across a change of clocks, its reasons for moved sessions, and the
patient's page showing the course."""

import datetime as dt

import pytest
from django.urls import reverse

from clinic.models import Closure
from scheduling.models import Course, Reminder, Session
from scheduling.reminders import reminder_message
from tests import factories
from tests.scheduling.booking_helpers import MONDAY, NY, at, book, chair, make_course, setup_data, wizard_url

pytestmark = pytest.mark.django_db


def confirm_data(site, preview, **overrides) -> dict:
    """The preview's rows posted back as shown, every row ticked."""
    rows = preview.context["formset"].initial
    data = setup_data(site, step="confirm", **{"rows-TOTAL_FORMS": len(rows), "rows-INITIAL_FORMS": len(rows)})
    for i, row in enumerate(rows):
        data[f"rows-{i}-include"] = "on"
        data[f"rows-{i}-date"] = row["date"].isoformat()
        data[f"rows-{i}-time"] = row["time"].strftime("%H:%M")
        data[f"rows-{i}-chair"] = row["chair"]
    data.update(overrides)
    return data


def test_what_the_wizard_shows_is_stored_and_reminded_across_the_change_of_clocks(
    client_for, scheduler, site, patient, frozen_now
):
    """The clocks go forward on Sun 14 March 2027 in New York: every session stays at 09:00."""
    client = client_for(scheduler)
    preview = client.post(wizard_url(patient), setup_data(site))
    shown = [(row["date"], row["time"]) for row in preview.context["formset"].initial]
    assert {time for _, time in shown} == {dt.time(9)}
    response = client.post(wizard_url(patient), confirm_data(site, preview))
    assert response.status_code == 302
    sessions = list(Course.objects.get(patient=patient).sessions.order_by("start"))
    stored = [(s.start.astimezone(NY).date(), s.start.astimezone(NY).time()) for s in sessions]
    assert stored == shown
    assert len({s.start.utcoffset() for s in sessions}) == 1  # stored in UTC...
    assert {s.start.astimezone(NY).utcoffset() for s in sessions} == {dt.timedelta(hours=-5), dt.timedelta(hours=-4)}
    for session in sessions:
        reminder = Reminder.objects.filter(session=session).first()
        message = reminder_message(reminder=reminder, channel="email")
        assert "09:00" in message.body, "...and reminded at the time shown"


def test_a_time_the_clocks_skip_is_refused_beside_the_field(client_for, scheduler, site, patient, frozen_now):
    client = client_for(scheduler)
    preview = client.post(wizard_url(patient), setup_data(site))
    data = confirm_data(site, preview, **{"rows-0-date": "2027-03-14", "rows-0-time": "02:30"})
    response = client.post(wizard_url(patient), data)
    assert response.status_code == 200
    assert "02:30 does not exist on Sun 14 Mar 2027: the clocks go forward 1 hour that night." in (
        response.content.decode()
    )
    assert not Course.objects.filter(patient=patient).exists()


def test_moving_a_session_to_a_time_the_clocks_skip_is_refused(client_for, scheduler, site, course, frozen_now):
    session = book(course, chair(site, 3), at(MONDAY, 9))
    response = client_for(scheduler).post(
        reverse("scheduling:session-move", args=[session.pk]),
        {"date": "2027-03-14", "time": "02:30", "chair": chair(site, 3).pk, "version": session.version},
    )
    assert response.status_code == 200
    assert "the clocks go forward 1 hour" in response.content.decode()
    session.refresh_from_db()
    assert session.start == at(MONDAY, 9)


def test_the_preview_says_why_a_session_moved(client_for, scheduler, site, patient, frozen_now):
    Closure.objects.create(site=site, date=MONDAY + dt.timedelta(days=7), reason="staff training")
    response = client_for(scheduler).post(wizard_url(patient), setup_data(site))
    assert "Moved from Mon 8 Mar: site closed (staff training)." in response.content.decode()


def test_the_suicidal_ideation_course_pauses_for_the_prescribers_review(
    client_for, scheduler, site, patient, frozen_now
):
    client = client_for(scheduler)
    preview = client.post(wizard_url(patient), setup_data(site))
    assert "The course pauses after this session for the prescriber&#x27;s review." in preview.content.decode()
    client.post(wizard_url(patient), confirm_data(site, preview))
    course = Course.objects.get(patient=patient)
    assert course.review_phase_order == 1
    assert course.sessions.count() == 8


def test_the_patient_page_shows_the_active_course_and_its_sessions(
    client_for, scheduler, site, patient, course, frozen_now, django_assert_max_num_queries
):
    past = factories.make_session(patient, site, at(MONDAY, 9) - dt.timedelta(days=7), course=course, sync=False)
    upcoming = [book(course, chair(site, 3), at(MONDAY + dt.timedelta(days=d), 9)) for d in (0, 3, 7)]
    client = client_for(scheduler)
    url = reverse("clinic:patient-detail", args=[patient.pk])
    client.get(url)
    with django_assert_max_num_queries(25):
        response = client.get(url)
    html = response.content.decode()
    assert "Start a treatment course" not in html
    assert course.get_absolute_url() in html
    assert course.protocol.name in html
    assert "Mon 1 Mar 2027 09:00" in html
    for session in [past, *upcoming]:
        assert session.get_absolute_url() in html
    # More sessions: the same number of queries.
    for d in (10, 14, 17):
        book(course, chair(site, 3), at(MONDAY + dt.timedelta(days=d), 9))
    with django_assert_max_num_queries(25):
        client.get(url)


def test_a_patient_without_a_course_is_offered_one(client_for, scheduler, nurse, patient, frozen_now):
    html = client_for(scheduler).get(reverse("clinic:patient-detail", args=[patient.pk])).content.decode()
    assert "Start a treatment course" in html
    assert "No active course." in html
    nurse_html = client_for(nurse).get(reverse("clinic:patient-detail", args=[patient.pk])).content.decode()
    assert "Start a treatment course" not in nurse_html


def test_a_stopped_course_is_listed_and_a_new_one_offered(client_for, scheduler, patient, frozen_now):
    stopped = make_course(patient, scheduler, status=Course.Status.STOPPED)
    html = client_for(scheduler).get(reverse("clinic:patient-detail", args=[patient.pk])).content.decode()
    assert "Earlier courses" in html
    assert stopped.get_absolute_url() in html
    assert "Start a treatment course" in html
    assert Session.objects.count() == 0


def test_the_wizard_says_when_no_offered_days_fit(client_for, scheduler, site, patient, frozen_now):
    response = client_for(scheduler).post(wizard_url(patient), setup_data(site, weekdays=["0", "1"]))
    html = response.content.decode()
    assert "needs 2 of the offered days at least 2 days apart" in html
    assert "scheduling/course_preview.html" not in [t.name for t in response.templates]


def test_the_wizard_refuses_a_start_date_in_the_past(client_for, scheduler, site, patient, frozen_now):
    response = client_for(scheduler).post(wizard_url(patient), setup_data(site, start_date="2027-02-22"))
    assert "Choose a day from 26 Feb 2027" in response.content.decode()
    assert not Course.objects.filter(patient=patient).exists()
