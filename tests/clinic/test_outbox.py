"""/outbox/: administrators see every message with its status and retry failed reminders."""

import datetime as dt

import pytest

from clinic.models import AuditEvent, OutboxMessage
from scheduling.models import Reminder
from tests.factories import make_session

pytestmark = pytest.mark.django_db


@pytest.fixture
def outbox_rows():
    OutboxMessage.objects.create(channel="sms", backend="x", to="+12125550142", body="Sent one")
    OutboxMessage.objects.create(
        channel="email", backend="x", to="pat@example.com", body="Failed one", status="failed", error="HTTP 503"
    )


def test_it_lists_every_message_with_its_status(client_for, administrator, outbox_rows):
    response = client_for(administrator).get("/outbox/")
    text = response.content.decode()
    assert response.status_code == 200 and "Sent one" in text and "Failed one" in text
    assert AuditEvent.objects.filter(object_type="outbox", action="view").exists()


def test_it_filters_by_status(client_for, administrator, outbox_rows):
    text = client_for(administrator).get("/outbox/?status=failed").content.decode()
    assert "Failed one" in text and "Sent one" not in text


def test_it_retries_a_failed_reminder(client_for, administrator, patient, site):
    session = make_session(patient, site, dt.datetime(2030, 6, 10, 13, 0, tzinfo=dt.UTC))
    reminder = session.reminders.get(kind="24h")
    Reminder.objects.filter(pk=reminder.pk).update(status="failed", attempts=5, last_error="gateway down")
    client = client_for(administrator)
    assert "gateway down" in client.get("/outbox/").content.decode()
    response = client.post(f"/outbox/reminders/{reminder.pk}/retry/")
    assert response.status_code == 302
    reminder.refresh_from_db()
    assert (reminder.status, reminder.attempts) == ("pending", 0)
    assert AuditEvent.objects.filter(object_type="reminder", action="update").exists()


@pytest.mark.parametrize("role", ["scheduler", "nurse", "prescriber"])
def test_staff_without_the_permission_are_refused(client_for, personas, role):
    assert client_for(personas[role]).get("/outbox/").status_code == 403


def test_the_next_page_keeps_the_status_filter(client_for, administrator):
    OutboxMessage.objects.bulk_create(
        OutboxMessage(channel="sms", backend="x", to="+12125550142", body=f"Failed {i}", status="failed")
        for i in range(60)
    )
    text = client_for(administrator).get("/outbox/?status=failed").content.decode()
    assert 'href="?status=failed&amp;page=2"' in text and "Page 1 of 2" in text
    assert "Page 2 of 2" in client_for(administrator).get("/outbox/?status=failed&page=2").content.decode()


def test_it_shows_the_whole_of_a_long_message_with_its_link(client_for, administrator):
    link = "https://clinic.example/c/abcdef0123456789abcdef0123456789/"
    body = "Hello Pat,\n" + "Your session is on Thursday at 09:00 at Riverside. " * 5 + f"\nConfirm your ride: {link}"
    OutboxMessage.objects.create(channel="email", backend="x", to="pat@example.com", subject="Reminder", body=body)
    text = client_for(administrator).get("/outbox/").content.decode()
    assert link in text  # the whole body, not cut before the link
    assert "Hello Pat,<br>" in text


def test_it_names_the_patient_of_each_reminder_and_lists_the_planned_ones(
    client_for, administrator, patient, site, django_assert_max_num_queries
):
    session = make_session(patient, site, dt.datetime(2030, 6, 10, 13, 0, tzinfo=dt.UTC))
    sent = session.reminders.get(kind="24h")
    OutboxMessage.objects.create(
        channel="sms", backend="x", to="+12125550142", body="See you", reference=f"reminder:{sent.pk}"
    )
    OutboxMessage.objects.create(channel="sms", backend="x", to="+12125550143", body="Unrelated", reference="account")
    client = client_for(administrator)
    client.get("/outbox/")
    with django_assert_max_num_queries(20):
        text = client.get("/outbox/").content.decode()
    row = text.split("See you")[0].rsplit("<tr>", 1)[1]
    assert patient.full_name in row
    planned = text.split('id="planned"')[1].split("</details>")[0]
    assert patient.full_name in planned and "24h" in planned
