"""The day and week grids kept for ``PAGE_CACHE_SECONDS`` (clinic.page_cache): a booking,
move or cancellation made through the app is on the very next page; a change made around it
(a plain queryset update, as psql or a script would make it) shows once the seconds have run
out, and the page prints the time its grid was read."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from clinic.models import Patient
from scheduling.models import Session
from tests import factories
from tests.scheduling.booking_helpers import MONDAY, NOW, at, book, chair, make_course

# Real commits: a change ends the kept grids once its transaction has committed.
pytestmark = pytest.mark.django_db(transaction=True)

WEEK = reverse("scheduling:week")
DAY = reverse("scheduling:day")


@pytest.fixture(autouse=True)
def _kept_three_seconds(settings):
    settings.PAGE_CACHE_SECONDS = 3


@pytest.fixture
def booked(site, scheduler, frozen_now):
    patient = factories.make_patient(site=site, first_name="Robin", last_name="Hale")
    return book(make_course(patient, scheduler), chair(site, 2), at(MONDAY, 9))


def _page(client, site, at_time=NOW, url=WEEK) -> str:
    params = {"start": MONDAY.isoformat()} if url == WEEK else {"date": MONDAY.isoformat()}
    with time_machine.travel(at_time, tick=False):
        response = client.get(url, {**params, "site": site.pk})
    assert response.status_code == 200
    return response.content.decode()


def test_a_change_around_the_app_shows_once_the_seconds_have_run_out(client_for, scheduler, site, booked):
    client = client_for(scheduler)
    first = _page(client, site)
    assert "Robin Hale, Chair 2" in first and "Updated 12:00:00." in first
    Patient.objects.filter(pk=booked.patient_id).update(last_name="Hale-Moreno")

    kept = _page(client, site, NOW + dt.timedelta(seconds=2))
    assert "Hale-Moreno" not in kept
    assert "Updated 12:00:00." in kept  # the time the grid was read, not the time of the request

    later = _page(client, site, NOW + dt.timedelta(seconds=4))
    assert "Robin Hale-Moreno, Chair 2" in later
    assert "Updated 12:00:04." in later


def test_a_cancellation_on_the_schedulers_page_is_on_the_very_next_week(client_for, scheduler, site, booked):
    client = client_for(scheduler)
    assert "Robin Hale, Chair 2, Booked" in _page(client, site)
    response = client.post(
        reverse("scheduling:session-cancel", args=[booked.pk]), {"version": booked.version, "reason": "Flu"}
    )
    assert response.status_code == 302
    assert Session.objects.get(pk=booked.pk).status == "cancelled"
    page = _page(client, site)  # the same instant: no copy is used
    assert "Robin Hale, Chair 2, Booked" not in page
    assert "Robin Hale</a> · Chair 2 · Flu" in page


def test_a_booking_made_through_the_app_is_on_the_very_next_day_and_week(client_for, scheduler, site, booked):
    client = client_for(scheduler)
    assert "Noor Vance" not in _page(client, site)
    assert "Noor Vance" not in _page(client, site, url=DAY)
    patient = factories.make_patient(site=site, first_name="Noor", last_name="Vance")
    book(make_course(patient, scheduler), chair(site, 4), at(MONDAY, 13))
    assert "Noor Vance, Chair 4" in _page(client, site)
    assert "Noor Vance" in _page(client, site, url=DAY)


def test_no_copy_is_kept_with_zero_seconds(client_for, scheduler, site, booked, settings):
    settings.PAGE_CACHE_SECONDS = 0
    client = client_for(scheduler)
    assert "Robin Hale, Chair 2" in _page(client, site)
    Patient.objects.filter(pk=booked.patient_id).update(last_name="Hale-Moreno")
    assert "Robin Hale-Moreno, Chair 2" in _page(client, site)


def test_the_grid_is_kept_in_a_shared_redis_cache(client_for, scheduler, site, booked, redis_cache):
    """The kept grid goes through Redis (pickled), its cancelled sessions included."""
    Session.objects.filter(pk=booked.pk).update(status="cancelled", cancel_reason="Flu")
    client = client_for(scheduler)
    first = _page(client, site)
    assert "Robin Hale</a> · Chair 2 · Flu" in first
    Patient.objects.filter(pk=booked.patient_id).update(last_name="Hale-Moreno")
    kept = _page(client, site, NOW + dt.timedelta(seconds=2))
    assert "Robin Hale</a> · Chair 2 · Flu" in kept and "Updated 12:00:00." in kept
