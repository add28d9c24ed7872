"""Moving a session: this one only, or this and the following ones keeping their spacing;
free chairs and times offered when the slot asked for is taken."""

import datetime as dt

import pytest
from django.urls import reverse

from clinic.models import AuditEvent
from scheduling.models import Session
from tests import factories
from tests.scheduling.booking_helpers import MONDAY, NY, at, book, chair

pytestmark = pytest.mark.django_db


@pytest.fixture
def booked(course, site):
    """Mon, Thu, Mon, Thu at 09:00 in chair 3."""
    return [book(course, chair(site, 3), at(MONDAY + dt.timedelta(days=d), 9)) for d in (0, 3, 7, 10)]


def move(client, session, day, time, chair_obj, scope="this"):
    return client.post(
        reverse("scheduling:session-move", args=[session.pk]),
        {"date": day.isoformat(), "time": time, "chair": chair_obj.pk, "version": session.version, "scope": scope},
    )


def local_days(sessions):
    return [s.start.astimezone(NY).date() for s in sessions]


def test_this_session_only_leaves_the_following_ones(client_for, scheduler, site, booked, frozen_now):
    response = move(client_for(scheduler), booked[0], MONDAY + dt.timedelta(days=1), "09:00", chair(site, 3))
    assert response.status_code == 302
    for s in booked:
        s.refresh_from_db()
    assert local_days(booked) == [MONDAY + dt.timedelta(days=d) for d in (1, 3, 7, 10)]


def test_this_and_the_following_ones_keep_their_spacing(client_for, scheduler, site, booked, frozen_now):
    client = client_for(scheduler)
    response = move(client, booked[0], MONDAY + dt.timedelta(days=1), "10:00", chair(site, 3), scope="following")
    assert response.status_code == 302
    for s in booked:
        s.refresh_from_db()
    assert local_days(booked) == [MONDAY + dt.timedelta(days=d) for d in (1, 4, 8, 11)]
    assert {s.start.astimezone(NY).time() for s in booked} == {dt.time(10)}
    assert AuditEvent.objects.filter(object_type="session", summary__action="move").count() == 4
    follow = client.get(response["Location"])
    assert "the 3 following sessions moved with it, keeping their spacing" in follow.content.decode()


def test_nothing_moves_when_one_of_the_following_cannot(client_for, scheduler, site, booked, course, frozen_now):
    from clinic.models import Closure

    Closure.objects.create(site=site, date=MONDAY + dt.timedelta(days=11), reason="inspection")
    response = move(
        client_for(scheduler), booked[0], MONDAY + dt.timedelta(days=1), "09:00", chair(site, 3), scope="following"
    )
    assert response.status_code == 200
    assert (
        "The session of Thu 11 Mar, moving to Fri 12 Mar 09:00: The clinic is closed on Fri 12 Mar 2027 (inspection)."
        in (response.content.decode())
    )
    for s in booked:
        s.refresh_from_db()
    assert local_days(booked) == [MONDAY + dt.timedelta(days=d) for d in (0, 3, 7, 10)]


def test_a_taken_chair_offers_free_chairs_and_times(client_for, scheduler, site, booked, frozen_now):
    other = factories.make_patient(site=site)
    tuesday = MONDAY + dt.timedelta(days=1)
    other_course = factories.make_course(other, scheduler, start_date=MONDAY)
    book(other_course, chair(site, 1), at(tuesday, 9))
    response = move(client_for(scheduler), booked[0], tuesday, "09:00", chair(site, 1))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Chair 1 is taken" in html
    assert "Free slots nearest to the time asked" in html
    assert "Tue 2 Mar 09:00 · Chair 2" in html  # another chair at the very time asked
    assert "Every chair is taken" not in html


def test_when_every_chair_is_taken_it_says_so_and_offers_the_nearest_slots(
    client_for, scheduler, site, booked, frozen_now, django_assert_max_num_queries
):
    tuesday = MONDAY + dt.timedelta(days=1)
    for n in range(1, 7):
        other = factories.make_patient(site=site)
        factories.make_session(other, site, at(tuesday, 9), chair=chair(site, n), sync=False)
    client = client_for(scheduler)
    with django_assert_max_num_queries(60):
        response = move(client, booked[0], tuesday, "09:00", chair(site, 3))
    html = response.content.decode()
    assert "Every chair is taken at 09:00 on Tue 2 Mar." in html
    slots = response.context["free_slots"]
    assert slots and all((s.date, s.time) != (tuesday, dt.time(9)) for s in slots)
    # The nearest first: the same day, a time after the sessions there (2.5 hours long) end.
    assert slots[0].date == tuesday
    assert slots[0].time == dt.time(11, 30)
    # Pressing one books it.
    first = slots[0]
    session = booked[0]
    session.refresh_from_db()
    response = client.post(
        reverse("scheduling:session-move", args=[session.pk]),
        {
            "date": first.date.isoformat(),
            "time": first.time.strftime("%H:%M"),
            "chair": first.chair_id,
            "version": session.version,
            "scope": "this",
        },
    )
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.start == at(tuesday, 11, 30)


def test_free_slots_keep_the_patients_dose_gap(site, patient, booked, frozen_now):
    from scheduling import selectors

    slots = selectors.free_slots(
        site=site,
        patient=patient,
        around=at(MONDAY + dt.timedelta(days=4), 9),
        minutes=165,
        min_days_between=2,
        exclude_pks=(booked[1].pk,),
    )
    doses = {MONDAY, MONDAY + dt.timedelta(days=7), MONDAY + dt.timedelta(days=10)}
    assert slots
    assert all(min(abs((s.date - d).days) for d in doses) >= 2 for s in slots)
    assert Session.objects.count() == 4
