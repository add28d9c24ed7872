"""Free text on the session day is bounded (forms and the database) and never stores invisible
format characters (U+202A-U+202E, U+2066-U+2069, U+200E/U+200F)."""

import datetime as dt

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.urls import reverse

from monitoring import services
from monitoring.models import NOTE_MAX, AdverseEvent, CheckIn, Discharge, DoseRecord, VitalsReading
from tests.monitoring.conftest import CHECKLIST_ALL, DAY_START, NORMAL, vitals_post

pytestmark = pytest.mark.django_db

AT_0905 = DAY_START + dt.timedelta(minutes=5)
HUGE = "x" * 2_400_000
RLO = "\u202e"


def url(name, session):
    return reverse(f"monitoring:{name}", args=[session.pk])


def test_an_oversized_check_in_note_is_refused(client_for, nurse, session):
    with time_machine.travel(AT_0905, tick=False):
        response = client_for(nurse).post(
            url("check-in", session), {**dict.fromkeys(CHECKLIST_ALL, "on"), "notes": HUGE}
        )
    assert response.status_code == 200
    assert response.context["checkin_form"].has_error("notes", code="max_length")
    assert not CheckIn.objects.exists()
    session.refresh_from_db()
    assert session.status == "booked"


def test_an_oversized_reading_note_is_refused(client_for, nurse, session):
    with time_machine.travel(AT_0905, tick=False):
        services.session_check_in(session=session, user=nurse, checklist=CHECKLIST_ALL)
        response = client_for(nurse).post(
            url("vitals-record", session), vitals_post(checkpoint="pre_dose", notes="n" * (NOTE_MAX + 1))
        )
    assert response.status_code == 200
    assert response.context["vitals_form"].has_error("notes", code="max_length")
    assert not VitalsReading.objects.exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"lot_number": "L" * 41}, "lot_number"),
    ],
)
def test_an_oversized_lot_number_is_refused(client_for, nurse, session, data, field):
    with time_machine.travel(AT_0905, tick=False):
        services.session_check_in(session=session, user=nurse, checklist=CHECKLIST_ALL)
        services.vitals_record(session=session, user=nurse, kind="pre_dose", values=NORMAL)
        response = client_for(nurse).post(url("dose-record", session), {"dose_mg": "56", **data})
    assert response.status_code == 200
    assert response.context["dose_form"].has_error(field, code="max_length")
    assert not DoseRecord.objects.exists()


def test_an_oversized_adverse_event_is_refused(client_for, nurse, session, run_to_observation):
    run_to_observation(session)
    with time_machine.travel(DAY_START + dt.timedelta(minutes=30), tick=False):
        response = client_for(nurse).post(
            url("adverse-event", session),
            {"kind": "other", "severity": "mild", "description": "d" * 256, "action_taken": HUGE},
        )
    assert response.status_code == 200
    form = response.context["event_form"]
    assert form.has_error("description", code="max_length") and form.has_error("action_taken", code="max_length")
    assert not AdverseEvent.objects.exists()


def test_discharge_text_is_bounded_and_stripped_of_invisible_characters(client_for, nurse, session, run_to_observation):
    run_to_observation(session)
    with time_machine.travel(DAY_START + dt.timedelta(minutes=135), tick=False):
        services.vitals_record(session=session, user=nurse, kind="discharge", values=NORMAL)
        client = client_for(nurse)
        ready = {"alert": "on", "oriented": "on", "steady": "on"}
        refused = client.post(url("discharge", session), {**ready, "picked_up_by": "J" * 121, "notes": HUGE})
        assert refused.status_code == 200
        assert refused.context["discharge_form"].has_error("picked_up_by", code="max_length")
        assert refused.context["discharge_form"].has_error("notes", code="max_length")
        assert not Discharge.objects.exists()
        response = client.post(
            url("discharge", session),
            {**ready, "picked_up_by": f"Jordan {RLO}elpmaxE", "picked_up_relationship": f"{RLO}Partner\u200f"},
        )
    assert response.status_code == 302
    discharge = Discharge.objects.get()
    assert discharge.picked_up_by == "Jordan elpmaxE" and discharge.picked_up_relationship == "Partner"


def test_a_note_with_invisible_characters_is_stored_without_them(client_for, nurse, session):
    with time_machine.travel(AT_0905, tick=False):
        services.session_check_in(session=session, user=nurse, checklist=CHECKLIST_ALL)
        response = client_for(nurse).post(
            url("vitals-record", session), vitals_post(checkpoint="pre_dose", notes=f"BP {RLO}001/181 left arm")
        )
    assert response.status_code == 302
    assert VitalsReading.objects.get().notes == "BP 001/181 left arm"


def test_the_database_refuses_an_oversized_note(nurse, session):
    with time_machine.travel(AT_0905, tick=False):
        checkin = services.session_check_in(session=session, user=nurse, checklist=CHECKLIST_ALL)
    with pytest.raises(IntegrityError), transaction.atomic():
        CheckIn.objects.filter(pk=checkin.pk).update(notes="n" * (NOTE_MAX + 1))
