"""The patient's confirmation link: /c/<token>/, no login."""

import datetime as dt
import re

import pytest
import time_machine
from django.core.cache import cache

from clinic.models import AuditEvent
from scheduling.links import confirm_token
from scheduling.models import TransportArrangement
from tests.factories import make_session

pytestmark = pytest.mark.django_db

START = dt.datetime(2030, 6, 10, 13, 0, tzinfo=dt.UTC)  # Monday 10 June, 09:00 in New York
BEFORE = START - dt.timedelta(days=1)


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()


@pytest.fixture
def session(patient, site):
    return make_session(patient, site, START)


def url(session):
    return f"/c/{confirm_token(session.pk)}/"


@time_machine.travel(BEFORE, tick=False)
def test_it_shows_clinic_day_and_time_only(client, session, patient, settings):
    response = client.get(url(session))
    assert response.status_code == 200
    text = response.content.decode()
    assert settings.CLINIC_NAME in text and "Monday 10 June 2030" in text and "09:00" in text
    for private in (patient.last_name, patient.mrn, "ketamine", "Esketamine", "56 mg"):
        assert private not in text
    # The planned dose (56) appears nowhere as a number of its own (ids and the link's
    # token may contain the digits).
    assert not re.search(r"(?<![\w-])56(?![\w-])", text)
    assert response["Cache-Control"].startswith("max-age=0")


@time_machine.travel(BEFORE, tick=False)
def test_it_records_the_ride_confirmed_by_the_patient(client, session):
    response = client.post(url(session), {"name": "Jordan Example", "phone": "(212) 555-0199"})
    assert response.status_code == 302 and response["Location"].endswith("/done/")
    transport = TransportArrangement.objects.get(session=session)
    assert (transport.name, transport.phone, transport.status) == (
        "Jordan Example",
        "+12125550199",
        "confirmed_patient",
    )
    assert transport.confirmed_at == BEFORE and transport.confirmed_by is None
    event = AuditEvent.objects.get(object_type="transportarrangement")
    assert (event.actor, event.action, event.user_id) == ("patient", "create", None)
    assert event.patient_id == session.patient_id
    assert "Jordan Example" in client.get(response["Location"]).content.decode()


@time_machine.travel(BEFORE, tick=False)
def test_it_confirms_the_driver_already_recorded(client, session):
    TransportArrangement.objects.create(session=session, name="Sam Driver", phone="+12125550123")
    page = client.get(url(session)).content.decode()
    assert "Sam Driver" in page and "0123" in page and "+12125550123" not in page
    client.post(url(session), {"name": "", "phone": ""})
    transport = TransportArrangement.objects.get(session=session)
    assert (transport.name, transport.phone, transport.status) == ("Sam Driver", "+12125550123", "confirmed_patient")
    assert AuditEvent.objects.get(object_type="transportarrangement").actor == "patient"


@time_machine.travel(BEFORE, tick=False)
def test_it_asks_for_a_driver_when_none_is_known(client, session):
    response = client.post(url(session), {"name": "", "phone": "not a phone"})
    assert response.status_code == 200
    form = response.context["form"]
    assert form.has_error("name", "name_required") and form.has_error("phone", "invalid_phone")
    assert not TransportArrangement.objects.exists()


@time_machine.travel(BEFORE, tick=False)
def test_a_tampered_link_changes_nothing(client, session):
    token = confirm_token(session.pk)
    other = confirm_token(session.pk + 1).split("-")[0]
    for bad in (token[:-1] + ("A" if token[-1] != "A" else "B"), f"{other}-{token.split('-')[1]}", "garbage"):
        response = client.post(f"/c/{bad}/", {"name": "Mallory", "phone": "+12125550100"})
        assert response.status_code == 404
        assert "could not open this link" in response.content.decode()
    assert not TransportArrangement.objects.exists()
    assert not AuditEvent.objects.filter(actor="patient").exists()


def test_the_link_expires_when_the_session_starts(client, session):
    with time_machine.travel(START, tick=False):
        response = client.post(url(session), {"name": "Jordan", "phone": "+12125550199"})
    assert response.status_code == 410 and "expired" in response.content.decode()
    assert not TransportArrangement.objects.exists()


@time_machine.travel(BEFORE, tick=False)
def test_a_cancelled_session_changes_nothing(client, session):
    session.status = "cancelled"
    session.save()
    response = client.post(url(session), {"name": "Jordan", "phone": "+12125550199"})
    assert response.status_code == 410 and "no longer booked" in response.content.decode()
    assert not TransportArrangement.objects.exists()


@time_machine.travel(BEFORE, tick=False)
def test_it_is_rate_limited(client, session, settings):
    settings.CONFIRM_RATE_LIMIT = 3
    statuses = [client.get(url(session)).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    assert client.post(url(session), {"name": "Jordan", "phone": "+12125550199"}).status_code == 429
    assert not TransportArrangement.objects.exists()
