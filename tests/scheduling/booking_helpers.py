"""Builders and fixtures for the booking tests. The clock is pinned to Friday 26 February
2027, 12:00 in New York, so "next Monday" is always 1 March 2027."""

import datetime as dt
import zoneinfo

import pytest
import time_machine

from scheduling import services
from scheduling.models import Course, Protocol

NY = zoneinfo.ZoneInfo("America/New_York")
NOW = dt.datetime(2027, 2, 26, 12, 0, tzinfo=NY)
MONDAY = dt.date(2027, 3, 1)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=NY)


def make_course(patient, user, *, slug="esketamine-trd", site=None, **kwargs) -> Course:
    return Course.objects.create(
        patient=patient,
        protocol=Protocol.objects.get(slug=slug),
        site=site or patient.site,
        start_date=MONDAY,
        weekdays=[0, 3],
        start_time=dt.time(9),
        created_by=user,
        **kwargs,
    )


def book(course, chair, start, **kwargs):
    """Book with the length and dose of the protocol's first phase (or ``phase=``)."""
    return services.session_book(course=course, chair=chair, start=start, **kwargs)


def chair(site, n: int):
    return site.chairs.get(name=f"Chair {n}")


@pytest.fixture
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def course(patient, scheduler, frozen_now):
    return make_course(patient, scheduler)
