"""The day and week grids show every kind of change to what they show on the next page, the
changes made with queryset updates (which send no signals) included."""

import datetime as dt

import pytest
from django.urls import reverse

from clinic.models import Chair, Closure, OpeningHours, Patient, Site
from scheduling.models import Session, SessionStatus, TransportArrangement
from tests import factories
from tests.scheduling.booking_helpers import MONDAY, at, book, chair, make_course

pytestmark = pytest.mark.django_db

WEEK = reverse("scheduling:week")
DAY = reverse("scheduling:day")


@pytest.fixture
def booked(site, scheduler, frozen_now):
    patient = factories.make_patient(site=site, first_name="Robin", last_name="Hale")
    session = book(make_course(patient, scheduler), chair(site, 2), at(MONDAY, 9))
    TransportArrangement.objects.update_or_create(
        session=session, defaults={"name": "Sam", "phone": "+12125550199", "status": "confirmed_staff"}
    )
    return session


def _week(client, site) -> str:
    return client.get(WEEK, {"start": MONDAY.isoformat(), "site": site.pk}).content.decode()


def _day(client, site) -> str:
    return client.get(DAY, {"date": MONDAY.isoformat(), "site": site.pk}).content.decode()


CHANGES = {
    # name: (change, page, shown before, shown after)
    "booking": (
        lambda s: book(
            make_course(
                factories.make_patient(site=s.chair.site, first_name="Noor", last_name="Vance"), s.course.created_by
            ),
            chair(s.chair.site, 4),
            at(MONDAY, 13),
        ),
        _week,
        "Robin Hale, Chair 2",
        "Noor Vance, Chair 4",
    ),
    "cancellation": (
        lambda s: Session.objects.filter(pk=s.pk).update(status=SessionStatus.CANCELLED, cancel_reason="Flu"),
        _week,
        "Robin Hale, Chair 2, Booked",
        "Robin Hale</a> · Chair 2 · Flu",
    ),
    "moved": (
        lambda s: Session.objects.filter(pk=s.pk).update(start=at(MONDAY, 14), planned_end=at(MONDAY, 16, 45)),
        _week,
        "09:00 Robin Hale",
        "14:00 Robin Hale",
    ),
    "ride unconfirmed": (
        lambda s: TransportArrangement.objects.filter(session=s).update(status="unconfirmed"),
        _day,
        "Robin Hale<br>",
        'Booked · <span class="flag flag-warning">ride?</span>',
    ),
    "patient renamed": (
        lambda s: Patient.objects.filter(pk=s.patient_id).update(last_name="Hale-Moreno"),
        _week,
        "Robin Hale, Chair 2",
        "Robin Hale-Moreno, Chair 2",
    ),
    "chair renamed": (
        lambda s: Chair.objects.filter(pk=s.chair_id).update(name="Window chair"),
        _week,
        "Robin Hale, Chair 2",
        "Robin Hale, Window chair",
    ),
    "closure": (
        lambda s: Closure.objects.create(site=s.chair.site, date=MONDAY),
        _day,
        "Robin Hale",
        "schedule-chair schedule-closed",
    ),
    "opening hours": (
        lambda s: OpeningHours.objects.filter(site=s.chair.site, weekday=0).update(opens=dt.time(6)),
        _day,
        "08:00",
        "06:00",
    ),
    "time zone": (
        lambda s: Site.objects.filter(pk=s.chair.site_id).update(time_zone="America/Chicago"),
        _week,
        "09:00 Robin Hale",
        "08:00 Robin Hale",
    ),
}


@pytest.mark.parametrize("name", CHANGES)
def test_a_change_is_on_the_next_page(client_for, scheduler, site, booked, name):
    change, page, before, after = CHANGES[name]
    client = client_for(scheduler)
    html = page(client, site)
    assert before in html
    assert after not in html
    change(booked)
    site.refresh_from_db()
    assert after in page(client, site)


def test_a_booking_at_another_site_is_not_on_this_sites_grid(client_for, scheduler, site, booked):
    other = factories.make_site("Hillcrest")
    patient = factories.make_patient(site=other, first_name="Kit", last_name="Moss")
    book(make_course(patient, scheduler, site=other), chair(other, 1), at(MONDAY, 9))
    html = _week(client_for(scheduler), site)
    assert "Robin Hale, Chair 2" in html
    assert "Kit Moss" not in html
