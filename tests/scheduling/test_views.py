"""The schedule pages, the course wizard and the session actions, through the URLs, per role."""

import datetime as dt

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse

from clinic.models import AuditEvent
from scheduling.models import Course, Session, SessionStatus, TransportArrangement
from tests import factories
from tests.scheduling.booking_helpers import MONDAY, at, book, chair, make_course

pytestmark = pytest.mark.django_db


@pytest.fixture
def session(course, site):
    return book(course, chair(site, 3), at(MONDAY, 9))


def setup_data(site, **overrides):
    data = {
        "step": "preview",
        "protocol": course_protocol_pk(),
        "start_date": MONDAY.isoformat(),
        "weekdays": ["0", "3"],
        "start_time": "09:00",
        "chair": chair(site, 3).pk,
    }
    data.update(overrides)
    return data


def course_protocol_pk(slug="esketamine-mdsi"):
    from scheduling.models import Protocol

    return Protocol.objects.get(slug=slug).pk


def test_it_shows_the_day_with_sessions_as_blocks(client_for, nurse, session, frozen_now):
    response = client_for(nurse).get(reverse("scheduling:day"), {"date": MONDAY.isoformat()})
    assert response.status_code == 200
    html = response.content.decode()
    assert session.patient.full_name in html
    assert f'href="{reverse("scheduling:session-detail", args=[session.pk])}"' in html
    assert "status-booked" in html
    assert AuditEvent.objects.filter(object_type="schedule_day", user=nurse).exists()


def test_the_week_view_runs_a_fixed_number_of_queries(
    client_for, scheduler, site, frozen_now, django_assert_max_num_queries
):
    """Computed, not read from the cache: every booking below moves the schedule on."""
    client = client_for(scheduler)
    url = reverse("scheduling:week")
    client.get(url, {"start": MONDAY.isoformat()})  # warm caches (content types, session)
    cache.clear()
    with django_assert_max_num_queries(30) as few:
        client.get(url, {"start": MONDAY.isoformat()})
    assert any("scheduling_session" in q["sql"] for q in few.captured_queries)
    # 6 chairs x 6 open days, 3 sessions a day per chair.
    for day in range(6):
        for n in range(1, 7):
            for hour in (8, 11, 14):
                patient = factories.make_patient(site=site)
                course = make_course(patient, scheduler)
                book(course, chair(site, n), at(MONDAY + dt.timedelta(days=day), hour))
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url, {"start": MONDAY.isoformat()})
    assert response.status_code == 200
    assert response.content.decode().count("schedule-block status-booked") == 6 * 6 * 3


def test_transport_list_shows_unconfirmed_rides_in_the_next_48_hours(client_for, scheduler, site, course):
    soon = book(course, chair(site, 1), at(MONDAY, 9))
    later = book(course, chair(site, 1), at(MONDAY + dt.timedelta(days=3), 9))
    with time_machine.travel(at(MONDAY - dt.timedelta(days=1), 12), tick=False):
        html = client_for(scheduler).get(reverse("scheduling:transport-list")).content.decode()
    assert reverse("scheduling:session-detail", args=[soon.pk]) in html
    assert reverse("scheduling:session-detail", args=[later.pk]) not in html


def test_the_wizard_previews_then_books_the_whole_course(client_for, scheduler, site, patient, frozen_now):
    client = client_for(scheduler)
    url = reverse("scheduling:course-create") + f"?patient={patient.pk}"
    assert client.get(url).status_code == 200
    preview = client.post(url, setup_data(site))
    assert preview.status_code == 200
    assert "Check the proposed sessions" in preview.content.decode()
    rows = preview.context["formset"].initial
    assert len(rows) == 8
    data = setup_data(site, step="confirm", **{"rows-TOTAL_FORMS": 8, "rows-INITIAL_FORMS": 8})
    for i, row in enumerate(rows):
        for key, value in row.items():
            if key == "include":
                data[f"rows-{i}-include"] = "on"
            elif isinstance(value, dt.date):
                data[f"rows-{i}-{key}"] = value.isoformat()
            elif isinstance(value, dt.time):
                data[f"rows-{i}-{key}"] = value.strftime("%H:%M")
            else:
                data[f"rows-{i}-{key}"] = value
    response = client.post(url, data)
    course = Course.objects.get(patient=patient)
    assert response.status_code == 302
    assert response["Location"] == course.get_absolute_url()
    assert course.sessions.count() == 8
    assert set(course.sessions.values_list("chair__name", flat=True)) == {"Chair 3"}


def test_the_preview_marks_a_conflict_and_offers_another_chair(
    client_for, scheduler, site, patient, course, frozen_now
):
    book(course, chair(site, 3), at(MONDAY, 9))  # another patient holds Chair 3 on Monday
    newcomer = factories.make_patient(site=site)
    response = client_for(scheduler).post(
        reverse("scheduling:course-create") + f"?patient={newcomer.pk}",
        setup_data(site),
    )
    html = response.content.decode()
    assert "Chair 3 is taken: Chair 1 offered." in html


def test_the_wizard_refuses_a_patient_without_rems_with_the_reason(client_for, scheduler, site, frozen_now):
    patient = factories.make_patient(site=site, rems_enrollment_id="", rems_enrollment_date=None)
    response = client_for(scheduler).post(
        reverse("scheduling:course-create") + f"?patient={patient.pk}", setup_data(site)
    )
    assert response.status_code == 200
    assert "is not enrolled in the REMS programme" in response.content.decode()
    assert not Course.objects.filter(patient=patient).exists()


def test_nurses_read_the_schedule_but_cannot_book(client_for, nurse, session, site, patient):
    client = client_for(nurse)
    assert client.get(reverse("scheduling:session-detail", args=[session.pk])).status_code == 200
    assert client.get(reverse("scheduling:course-create") + f"?patient={patient.pk}").status_code == 403
    move = {"version": session.version, "date": MONDAY.isoformat(), "time": "13:00", "chair": chair(site, 1).pk}
    assert client.post(reverse("scheduling:session-move", args=[session.pk]), move).status_code == 403
    assert client.post(reverse("scheduling:session-cancel", args=[session.pk]), {"reason": "x"}).status_code == 403
    session.refresh_from_db()
    assert (session.status, session.start) == (SessionStatus.BOOKED, at(MONDAY, 9))


def test_moving_into_a_taken_chair_shows_the_conflict(client_for, scheduler, site, session, frozen_now):
    other = book(make_course(factories.make_patient(site=site), scheduler), chair(site, 1), at(MONDAY, 13))
    response = client_for(scheduler).post(
        reverse("scheduling:session-move", args=[session.pk]),
        {"version": session.version, "date": MONDAY.isoformat(), "time": "12:00", "chair": other.chair_id},
    )
    assert response.status_code == 200
    assert "Chair 1 is taken 13:00-15:45 by another session." in response.content.decode()
    session.refresh_from_db()
    assert session.start == at(MONDAY, 9)


def test_a_stale_move_is_refused(client_for, scheduler, site, session, frozen_now):
    client = client_for(scheduler)
    url = reverse("scheduling:session-move", args=[session.pk])
    first = {"version": session.version, "date": MONDAY.isoformat(), "time": "12:00", "chair": chair(site, 2).pk}
    assert client.post(url, first).status_code == 302
    second = {**first, "time": "14:00"}
    response = client.post(url, second)
    assert "Someone else changed this session" in response.content.decode()
    session.refresh_from_db()
    assert session.start == at(MONDAY, 12)


def test_cancel_and_audit(client_for, scheduler, session, frozen_now):
    response = client_for(scheduler).post(
        reverse("scheduling:session-cancel", args=[session.pk]), {"version": session.version, "reason": "Flu"}
    )
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.status == SessionStatus.CANCELLED
    assert AuditEvent.objects.filter(action="update", object_id=str(session.pk), summary__action="cancel").exists()


def test_recording_the_ride_and_the_patient_confirmed_label(client_for, scheduler, session, frozen_now):
    client = client_for(scheduler)
    response = client.post(
        reverse("scheduling:session-transport", args=[session.pk]),
        {
            "kind": "escort",
            "name": "Jordan Example",
            "phone": "(212) 555-0199",
            "relationship": "Partner",
            "confirmed": "on",
        },
    )
    assert response.status_code == 302
    session.transport.refresh_from_db()
    assert session.transport.status == TransportArrangement.Status.CONFIRMED_STAFF
    assert session.transport.phone == "+12125550199"
    TransportArrangement.objects.filter(session=session).update(status=TransportArrangement.Status.CONFIRMED_PATIENT)
    html = client.get(reverse("scheduling:session-detail", args=[session.pk])).content.decode()
    assert "Confirmed by patient" in html


def test_no_show_then_make_up_from_the_course_page(client_for, scheduler, session, course):
    with time_machine.travel(at(MONDAY, 12), tick=False):
        client = client_for(scheduler)  # logged in now: the idle timeout counts from here
        client.post(reverse("scheduling:session-no-show", args=[session.pk]), {"version": session.version})
        response = client.post(reverse("scheduling:course-replan", args=[course.pk]), {"session": session.pk})
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.status == SessionStatus.NO_SHOW
    replacement = Session.objects.get(replaces=session)
    assert replacement.status == SessionStatus.BOOKED
    page = client.get(course.get_absolute_url()).content.decode()
    assert "makes up" in page


def test_grid_blocks_escape_names_and_flag_unconfirmed_rides(client_for, scheduler, site, frozen_now):
    patient = factories.make_patient(site=site, first_name="Ann & <b>", last_name="O'Brien")
    session = book(make_course(patient, scheduler), chair(site, 2), at(MONDAY, 9))
    TransportArrangement.objects.update_or_create(
        session=session, defaults={"name": "Sam", "phone": "+12125550199", "status": "unconfirmed"}
    )
    client = client_for(scheduler)
    day = client.get(reverse("scheduling:day"), {"date": MONDAY.isoformat()}).content.decode()
    assert "<strong>09:00</strong> Ann &amp; &lt;b&gt; O&#39;Brien<br>" in day
    assert 'Booked · <span class="flag flag-warning">ride?</span></span>' in day
    assert "<b>" not in day
    week = client.get(reverse("scheduling:week"), {"start": MONDAY.isoformat()}).content.decode()
    assert '<span class="schedule-initials" aria-hidden="true">AO</span>' in week
    assert "Mon 1 Mar 09:00 Ann &amp; &lt;b&gt; O&#39;Brien, Chair 2, Booked</span>" in week


def test_week_headings_link_each_day_and_mark_today_and_closed_days(client_for, scheduler, site, frozen_now):
    from clinic.models import Closure

    Closure.objects.create(site=site, date=dt.date(2027, 2, 24))
    html = client_for(scheduler).get(reverse("scheduling:week"), {"site": site.pk}).content.decode()
    day_url = reverse("scheduling:day")
    assert (
        f'<th scope="colgroup" colspan="6" class="text-center"><a href="{day_url}?date=2027-02-22&amp;site={site.pk}">'
        "Mon 22 Feb</a></th>" in html
    )
    assert (
        f'<th scope="colgroup" colspan="6" class="text-center schedule-today">'
        f'<a href="{day_url}?date=2027-02-26&amp;site={site.pk}">Fri 26 Feb</a></th>' in html
    )
    open_chair = '<th scope="col" class="text-center small schedule-chair" title="Chair 2">2</th>'
    closed_chair = '<th scope="col" class="text-center small schedule-chair schedule-closed" title="Chair 2">2</th>'
    # Open Monday, Tuesday, Thursday to Saturday; closed on Wednesday (a closure) and Sunday (no hours).
    assert html.count(open_chair) == 5
    assert html.count(closed_chair) == 2
    day = client_for(scheduler).get(day_url, {"site": site.pk}).content.decode()
    assert '<th scope="col" class="schedule-time">Time</th>\n      <th scope="col"' in day
    assert 'title="Chair 2">Chair 2</th>' in day


def test_the_session_page_lists_its_reminders_sent_planned_and_skipped(client_for, scheduler, session, frozen_now):
    from scheduling.models import Reminder

    reminders = list(Reminder.objects.filter(session=session).order_by("due_at"))
    assert len(reminders) >= 2  # planned at booking
    sent, skipped = reminders[0], reminders[1]
    Reminder.objects.filter(pk=sent.pk).update(status=Reminder.Status.SENT, sent_at=sent.due_at)
    Reminder.objects.filter(pk=skipped.pk).update(
        status=Reminder.Status.SKIPPED, skip_reason="no mobile number for SMS"
    )
    html = client_for(scheduler).get(reverse("scheduling:session-detail", args=[session.pk])).content.decode()
    card = html.split('id="reminders"')[1].split("</table>")[0]
    assert card.count("<tr>") == len(reminders) + 1  # the header and one row per reminder
    assert f"<td>{sent.kind}" in card and "Sent" in card
    assert "Skipped <span" in card and "no mobile number for SMS" in card
    assert card.index(sent.kind) < card.index(skipped.kind)  # in the order they are due


def test_a_session_without_reminders_says_so(client_for, scheduler, session, frozen_now):
    from scheduling.models import Reminder

    Reminder.objects.filter(session=session).delete()
    html = client_for(scheduler).get(reverse("scheduling:session-detail", args=[session.pk])).content.decode()
    assert "No reminders planned for this session." in html
