"""The server owns a session's clinical parameters: the course wizard books each session with
the length and planned dose of its protocol phase, whatever the page posts, and a move keeps
the session's length."""

import datetime as dt

import pytest
from django.urls import reverse

from scheduling.models import Course, Protocol, Session
from tests import factories
from tests.scheduling.booking_helpers import MONDAY, at, book, chair, make_course, setup_data, wizard_url

pytestmark = pytest.mark.django_db


def confirm_data(client, patient, site, **overrides) -> dict:
    """What the preview page would post back to book every proposed session."""
    preview = client.post(wizard_url(patient), setup_data(site))
    rows = preview.context["formset"].initial
    data = setup_data(site, step="confirm", **{"rows-TOTAL_FORMS": len(rows), "rows-INITIAL_FORMS": len(rows)})
    for i, row in enumerate(rows):
        data[f"rows-{i}-include"] = "on"
        data[f"rows-{i}-date"] = row["date"].isoformat()
        data[f"rows-{i}-time"] = row["time"].strftime("%H:%M")
        data[f"rows-{i}-chair"] = row["chair"]
    data.update(overrides)
    return data


def test_it_books_the_protocol_length_and_dose_whatever_is_posted(client_for, scheduler, site, patient, frozen_now):
    client = client_for(scheduler)
    tampered = {
        "rows-0-minutes": "1",
        "rows-0-dose_mg": "99999.9",
        "rows-0-phase_name": "Anything",
        "rows-0-sequence": "99",
    }
    response = client.post(wizard_url(patient), confirm_data(client, patient, site, **tampered))
    assert response.status_code == 302
    phase = Protocol.objects.get(slug="esketamine-mdsi").phases.get()
    first = Session.objects.get(patient=patient, sequence=1)
    assert first.planned_end - first.start == dt.timedelta(minutes=phase.session_minutes)
    assert first.planned_dose_mg == phase.default_dose_mg
    assert first.phase_name == phase.name
    assert set(Session.objects.filter(patient=patient).values_list("planned_dose_mg", flat=True)) == {
        phase.default_dose_mg
    }


def test_a_second_patient_cannot_take_the_chair_15_minutes_later(client_for, scheduler, site, patient, frozen_now):
    client = client_for(scheduler)
    data = confirm_data(client, patient, site, **{"rows-0-minutes": "1"})
    assert client.post(wizard_url(patient), data).status_code == 302
    other = factories.make_patient(site=site)
    response = client.post(
        reverse(
            "scheduling:session-move", args=[book(make_course(other, scheduler), chair(site, 1), at(MONDAY, 13)).pk]
        ),
        {"version": 1, "date": MONDAY.isoformat(), "time": "09:15", "chair": chair(site, 3).pk},
    )
    assert "Chair 3 is taken 09:00-11:45 by another session." in response.content.decode()
    assert not Session.objects.filter(chair=chair(site, 3), start=at(MONDAY, 9, 15)).exists()


def test_a_changed_proposal_books_nothing_and_shows_it_again(client_for, scheduler, site, patient, frozen_now):
    client = client_for(scheduler)
    data = confirm_data(client, patient, site)
    data["rows-TOTAL_FORMS"] = data["rows-TOTAL_FORMS"] + 1
    data["rows-8-include"], data["rows-8-date"], data["rows-8-time"] = "on", MONDAY.isoformat(), "12:00"
    data["rows-8-chair"] = chair(site, 1).pk
    response = client.post(wizard_url(patient), data)
    assert response.status_code == 200
    assert "The proposed sessions have changed: check them again, then confirm." in response.content.decode()
    assert not Course.objects.filter(patient=patient).exists()
    assert not Session.objects.filter(patient=patient).exists()


def test_a_move_keeps_the_session_length(client_for, scheduler, site, course, frozen_now):
    session = book(course, chair(site, 3), at(MONDAY, 9))
    length = session.planned_end - session.start
    response = client_for(scheduler).post(
        reverse("scheduling:session-move", args=[session.pk]),
        {
            "version": session.version,
            "date": MONDAY.isoformat(),
            "time": "12:00",
            "chair": chair(site, 2).pk,
            "minutes": "1",
            "planned_end": "2027-03-01T12:01",
        },
    )
    assert response.status_code == 302
    session.refresh_from_db()
    assert (session.start, session.planned_end - session.start) == (at(MONDAY, 12), length)


def test_the_preview_shows_each_phase_and_dose_from_the_protocol(client_for, scheduler, site, patient, frozen_now):
    factories.make_trd_history(patient, scheduler)
    response = client_for(scheduler).post(wizard_url(patient), setup_data(site, slug="esketamine-trd"))
    html = response.content.decode()
    assert "Induction (weeks 1-4)" in html and "56.0 mg" in html
    assert 'name="rows-0-dose_mg"' not in html and 'name="rows-0-minutes"' not in html
