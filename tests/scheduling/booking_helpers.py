"""Builders and fixtures for the booking tests. The clock is pinned to Friday 26 February
2027, 12:00 in New York, so "next Monday" is always 1 March 2027."""

import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.urls import reverse

from scheduling.models import Protocol
from tests import factories

NY = zoneinfo.ZoneInfo("America/New_York")
NOW = dt.datetime(2027, 2, 26, 12, 0, tzinfo=NY)
MONDAY = dt.date(2027, 3, 1)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=NY)


def make_course(patient, user, **kwargs):
    """``factories.make_course`` starting on MONDAY unless given."""
    kwargs.setdefault("start_date", MONDAY)
    return factories.make_course(patient, user, **kwargs)


book = factories.book


def wizard_url(patient) -> str:
    """The course wizard for ``patient``."""
    return reverse("scheduling:course-create") + f"?patient={patient.pk}"


def setup_data(site, slug="esketamine-mdsi", **overrides) -> dict:
    """The wizard's first step: Mondays and Thursdays at 09:00 from MONDAY, in chair 3."""
    data = {
        "step": "preview",
        "protocol": Protocol.objects.get(slug=slug).pk,
        "start_date": MONDAY.isoformat(),
        "weekdays": ["0", "3"],
        "start_time": "09:00",
        "chair": chair(site, 3).pk,
    }
    data.update(overrides)
    return data


def chair(site, n: int):
    return site.chairs.get(name=f"Chair {n}")


@pytest.fixture
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def course(patient, scheduler, frozen_now):
    return make_course(patient, scheduler)
