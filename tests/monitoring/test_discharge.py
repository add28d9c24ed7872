"""The discharge gate, checked on the server whatever the form sends."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from monitoring import services
from monitoring.models import Discharge
from tests.monitoring.conftest import DAY_START, NORMAL

pytestmark = pytest.mark.django_db

DOSED = DAY_START + dt.timedelta(minutes=10)  # 09:10 local: 120 minutes end at 11:10
READY = {
    "alert": "on",
    "oriented": "on",
    "steady": "on",
    "picked_up_by": "Jordan Example",
    "picked_up_relationship": "Partner",
}


def url(name, session):
    return reverse(f"monitoring:{name}", args=[session.pk])


@pytest.fixture
def observed(session, nurse, run_to_observation):
    run_to_observation(session, dosed_at=DOSED)
    with time_machine.travel(DOSED + dt.timedelta(minutes=41), tick=False):
        services.vitals_record(session=session, user=nurse, kind="checkpoint", checkpoint_minute=40, values=NORMAL)
    with time_machine.travel(DOSED + dt.timedelta(minutes=115), tick=False):
        services.vitals_record(session=session, user=nurse, kind="discharge", values=NORMAL)
    return session


def test_discharge_at_119_minutes_is_refused_and_says_when_120_end(client_for, nurse, observed):
    with time_machine.travel(DOSED + dt.timedelta(minutes=119, seconds=59), tick=False):
        response = client_for(nurse).post(url("discharge", observed), READY)
    assert response.status_code == 200
    assert "120 minutes of observation end at 11:10" in response.content.decode()
    assert not Discharge.objects.exists()
    observed.refresh_from_db()
    assert observed.status == "in_observation"


def test_discharge_at_120_minutes_is_allowed_when_the_rest_holds(client_for, nurse, observed):
    with time_machine.travel(DOSED + dt.timedelta(minutes=120), tick=False):
        response = client_for(nurse).post(url("discharge", observed), {**READY, "would_have_been_ready_at": "10:45"})
    assert response.status_code == 302
    discharge = Discharge.objects.get(observation__session=observed)
    assert discharge.picked_up_by == "Jordan Example" and discharge.matches_arrangement
    assert discharge.would_have_been_ready_at == DAY_START.replace(hour=10, minute=45)
    observed.refresh_from_db()
    assert observed.status == "discharged"


def test_the_page_lists_each_missing_condition_in_plain_words(client_for, nurse, session, run_to_observation):
    run_to_observation(session, dosed_at=DOSED)
    with time_machine.travel(DOSED + dt.timedelta(minutes=30), tick=False):
        page = client_for(nurse).get(url("session-day", session)).content.decode()
        response = client_for(nurse).post(url("discharge", session), {"alert": "on"})
    assert "120 minutes of observation end at 11:10" in page
    assert "No before-discharge vitals reading yet" in page
    body = response.content.decode()
    for text in (
        "120 minutes of observation end at 11:10",
        "No before-discharge vitals reading yet",
        "Readiness check: confirm the patient is oriented",
        "Readiness check: confirm the patient is steady on their feet",
        "Record who is taking the patient home",
    ):
        assert text in body
    assert "Readiness check: confirm the patient is alert" not in body


def test_out_of_range_discharge_vitals_need_a_new_reading_or_an_override(client_for, nurse, prescriber, observed):
    with time_machine.travel(DOSED + dt.timedelta(minutes=121), tick=False):
        services.vitals_record(session=observed, user=nurse, kind="discharge", values={**NORMAL, "systolic": 182})
        response = client_for(nurse).post(url("discharge", observed), READY)
        assert "Before-discharge vitals out of range (High BP)" in response.content.decode()
        assert not Discharge.objects.exists()
        assert client_for(nurse).post(url("discharge-override", observed), {"reason": "x"}).status_code == 403
        client_for(prescriber).post(
            url("discharge-override", observed), {"reason": "Baseline hypertension, asymptomatic"}
        )
        assert client_for(nurse).post(url("discharge", observed), READY).status_code == 302
    assert Discharge.objects.filter(observation__session=observed).count() == 1


def test_discharge_twice_is_refused(nurse, observed):
    with time_machine.travel(DOSED + dt.timedelta(minutes=125), tick=False):
        kwargs = {"alert": True, "oriented": True, "steady": True, "picked_up_by": "Jordan Example"}
        services.observation_discharge(session=observed, user=nurse, **kwargs)
        with pytest.raises(services.ValidationError):
            services.observation_discharge(session=observed, user=nurse, **kwargs)
    assert Discharge.objects.count() == 1


def test_a_different_person_taking_the_patient_home_is_recorded(nurse, observed):
    with time_machine.travel(DOSED + dt.timedelta(minutes=125), tick=False):
        discharge = services.observation_discharge(
            session=observed, user=nurse, alert=True, oriented=True, steady=True, picked_up_by="Casey Other"
        )
    assert discharge.picked_up_by == "Casey Other" and not discharge.matches_arrangement


def test_the_discharged_page_shows_the_record_and_the_chart(client_for, nurse, observed):
    with time_machine.travel(DOSED + dt.timedelta(minutes=125), tick=False):
        services.observation_discharge(
            session=observed, user=nurse, alert=True, oriented=True, steady=True, picked_up_by="Jordan Example"
        )
        page = client_for(nurse).get(url("session-day", observed)).content.decode()
    assert "Discharged at 11:15" in page and "Taken home by Jordan Example" in page
    assert "<svg" in page and "Systolic 180" in page and "SpO2 93" in page
    assert "style=" not in page  # the Content-Security-Policy forbids inline styles
