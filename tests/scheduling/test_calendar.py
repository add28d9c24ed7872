"""Calendar files: a site's feed behind a revocable token (chair, time and initials only; every
fetch audited), the patient's own session from their link (clinic, time, address; never the
drug), one UID per session that survives a move, and cancellations carried."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from icalendar import Calendar

from clinic import services_integrations
from clinic.models import AuditEvent
from scheduling import services
from scheduling.links import confirm_token
from tests import factories

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 16, 14, 0, tzinfo=dt.UTC)  # a Monday


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def feed(administrator, site):
    _, secret = services_integrations.integration_token_create(
        name="Front desk calendar", purpose="calendar", site=site, user=administrator
    )
    return secret


def events(body: bytes) -> dict:
    return {str(e["uid"]): e for e in Calendar.from_ical(body).walk("VEVENT")}


def test_the_site_feed_has_one_event_per_session_with_initials_only(client, feed, site, patient):
    patient.first_name, patient.last_name = "Robin", "Quill"
    patient.save()
    booked = factories.make_session(patient, site, NOW + dt.timedelta(days=2), sync=False)
    cancelled = factories.make_session(
        patient, site, NOW + dt.timedelta(days=5), sync=False, status="cancelled", chair=site.chairs.last()
    )
    elsewhere = factories.make_site("Elsewhere")
    factories.make_session(factories.make_patient(site=elsewhere), elsewhere, NOW + dt.timedelta(days=2), sync=False)

    response = client.get(reverse("calendar:site-feed", args=[feed]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    found = events(response.content)
    assert len(found) == 2
    event = next(e for e in found.values() if e["uid"].startswith(f"session-{booked.pk}@"))
    assert str(event["summary"]) == "Chair 1: R.Q."
    assert event.decoded("dtstart") == booked.start and event.decoded("dtend") == booked.planned_end
    assert str(event["status"]) == "CONFIRMED"
    text = response.content.decode()
    assert "Quill" not in text and "Robin" not in text and "ketamine" not in text.lower()
    gone = next(e for e in found.values() if e["uid"].startswith(f"session-{cancelled.pk}@"))
    assert str(gone["status"]) == "CANCELLED"
    audit = AuditEvent.objects.get(object_type="calendar_feed")
    assert audit.action == "export" and audit.object_id == str(site.pk) and audit.username.startswith("token:")


def test_a_moved_session_keeps_its_uid_with_a_higher_sequence(client, feed, site, patient, scheduler):
    session = factories.make_session(patient, site, NOW + dt.timedelta(days=2), sync=False)
    before = events(client.get(reverse("calendar:site-feed", args=[feed])).content)
    services.session_move(
        session=session, start=session.start + dt.timedelta(hours=2), chair=site.chairs.last(), version=None
    )
    session.refresh_from_db()
    after = events(client.get(reverse("calendar:site-feed", args=[feed])).content)
    assert set(before) == set(after)
    (uid,) = after
    assert after[uid].decoded("dtstart") == session.start
    assert int(after[uid]["sequence"]) > int(before[uid]["sequence"])
    assert str(after[uid]["summary"]).startswith(site.chairs.last().name)


def test_a_revoked_or_unknown_feed_is_not_found(client, feed, administrator):
    token = services_integrations.integration_token_use(secret=feed, purpose="calendar")
    services_integrations.integration_token_revoke(token=token, user=administrator)
    assert client.get(reverse("calendar:site-feed", args=[feed])).status_code == 404
    assert client.get(reverse("calendar:site-feed", args=["x" * 43])).status_code == 404


def test_a_fhir_token_does_not_open_a_feed(client, administrator):
    _, secret = services_integrations.integration_token_create(
        name="EHR", purpose="fhir", site=None, user=administrator
    )
    assert client.get(reverse("calendar:site-feed", args=[secret])).status_code == 404


def test_the_patient_gets_their_session_with_minimum_content(client, feed, site, patient):
    site.address = "12 River Road, Springfield"
    site.phone = "+1 555 010 0199"
    site.save()
    session = factories.make_session(patient, site, NOW + dt.timedelta(days=2), sync=False)
    token = confirm_token(session.pk)
    page = client.get(reverse("confirm:session", args=[token])).content.decode()
    url = reverse("calendar:patient-session", args=[token])
    assert f'href="{url}"' in page

    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    ((uid, event),) = events(response.content).items()
    assert uid in events(client.get(reverse("calendar:site-feed", args=[feed])).content)
    assert "12 River Road, Springfield" in str(event["location"])
    assert event.decoded("dtstart") == session.start
    assert "+1 555 010 0199" in str(event["description"])
    text = response.content.decode().lower()
    for word in ("ketamine", "esketamine", "depression", patient.last_name.lower(), "mg"):
        assert word not in text
    assert AuditEvent.objects.filter(object_type="session_ics", actor="patient", object_id=str(session.pk)).exists()


def test_a_tampered_link_gets_no_calendar_file(client, site, patient):
    session = factories.make_session(patient, site, NOW + dt.timedelta(days=2), sync=False)
    token = confirm_token(session.pk)[:-2] + "xx"
    assert client.get(reverse("calendar:patient-session", args=[token])).status_code == 404
