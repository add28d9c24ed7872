"""The session day's steps: which one is current, and a refused action opening its step."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from monitoring import services
from monitoring.day import load_day
from tests.monitoring.conftest import CHECKLIST_ALL, DAY_START, NORMAL

pytestmark = pytest.mark.django_db


def _steps(session, at):
    with time_machine.travel(at, tick=False):
        return load_day(session.pk).steps


def test_the_current_step_follows_the_day(nurse, session, run_to_observation):
    assert _steps(session, DAY_START) == {
        "check_in": "current",
        "pre_dose": "waiting",
        "dose": "waiting",
        "observation": "waiting",
        "discharge": "waiting",
    }
    with time_machine.travel(DAY_START, tick=False):
        services.session_check_in(session=session, user=nurse, arrived_at=DAY_START, checklist=CHECKLIST_ALL)
    assert _steps(session, DAY_START)["pre_dose"] == "current"
    with time_machine.travel(DAY_START + dt.timedelta(minutes=2), tick=False):
        services.vitals_record(session=session, user=nurse, kind="pre_dose", values=NORMAL)
    assert _steps(session, DAY_START + dt.timedelta(minutes=2))["dose"] == "current"
    run_to_observation(session, devices=1)  # one device of two: the next one is due
    steps = _steps(session, DAY_START + dt.timedelta(minutes=12))
    assert steps["dose"] == "current" and steps["observation"] == "underway" and steps["check_in"] == "done"


def test_a_discharged_session_has_every_step_done_but_its_record(session, run_to_discharge):
    run_to_discharge(session)
    steps = _steps(session, DAY_START + dt.timedelta(hours=3))
    assert steps["discharge"] == "current"
    assert {steps[k] for k in ("check_in", "pre_dose", "dose", "observation")} == {"done"}


def test_a_refused_discharge_opens_its_step_and_says_why_there(client_for, nurse, session, run_to_observation):
    run_to_observation(session)
    with time_machine.travel(DAY_START + dt.timedelta(minutes=60), tick=False):
        page = client_for(nurse).get(reverse("monitoring:session-day", args=[session.pk])).content.decode()
        assert f'action="{reverse("monitoring:discharge", args=[session.pk])}#discharge"' in page
        assert 'id="discharge" open' not in page  # a later step: folded
        response = client_for(nurse).post(
            reverse("monitoring:discharge", args=[session.pk]),
            {"alert": "on", "oriented": "on", "steady": "on", "picked_up_by": "Jordan Example"},
        )
    page = response.content.decode()
    assert 'id="discharge" open' in page and "day-step-failed" in page
    step = page[page.index('id="discharge" open') :]
    assert step.index("Discharge not allowed yet") < step.index("</details>")
    session.refresh_from_db()
    assert session.status == "in_observation"
