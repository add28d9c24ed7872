import datetime as dt
import io

import pytest
import time_machine

from monitoring import demo
from monitoring.models import Observation, VitalsReading
from scheduling.models import Session
from tests import factories
from tests.monitoring.conftest import DAY_START

pytestmark = pytest.mark.django_db


def test_the_demo_moves_two_of_todays_sessions_on_and_is_idempotent(nurse, site, make_session):
    chairs = list(site.chairs.all())
    sessions = [
        make_session(factories.make_patient(site=site), chair=chairs[n], start=DAY_START + dt.timedelta(hours=n))
        for n in range(3)
    ]
    with time_machine.travel(DAY_START + dt.timedelta(hours=2), tick=False):
        demo.seed(io.StringIO())
        readings = VitalsReading.objects.count()
        demo.seed(io.StringIO())
    assert VitalsReading.objects.count() == readings == 3
    statuses = [Session.objects.get(pk=s.pk).status for s in sessions]
    assert statuses == ["in_observation", "checked_in", "booked"]
    assert Observation.objects.count() == 1


def test_the_demo_does_nothing_without_sessions_today(nurse, site):
    out = io.StringIO()
    demo.seed(out)
    assert "nothing to do" in out.getvalue()
