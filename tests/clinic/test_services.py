"""Writes of the core app audit themselves, whoever calls them (a view, a task, the shell)."""

import datetime as dt

import pytest

from clinic import services
from clinic.models import AuditEvent, StaffAlert
from scheduling.models import Reminder
from tests.factories import make_session

pytestmark = pytest.mark.django_db


def test_an_acknowledged_alert_is_audited_once(client_for, nurse, patient):
    alert = StaffAlert.objects.create(kind="test", audience="nurse", message="m", dedupe_key="k", patient=patient)
    client = client_for(nurse)
    assert client.post(f"/alerts/{alert.pk}/acknowledge/").status_code == 302
    assert client.post(f"/alerts/{alert.pk}/acknowledge/").status_code == 302  # already done: nothing written
    alert.refresh_from_db()
    assert alert.acknowledged_by == nurse
    event = AuditEvent.objects.get(object_type="staffalert")
    expected = ("update", "nurse", patient.pk, str(alert.pk))
    assert (event.action, event.username, event.patient_id, event.object_id) == expected


def test_an_outbox_retry_outside_a_request_is_audited(administrator, patient, site):
    session = make_session(patient, site, dt.datetime(2030, 6, 10, 13, 0, tzinfo=dt.UTC))
    reminder = session.reminders.get(kind="24h")
    Reminder.objects.filter(pk=reminder.pk).update(status="failed", attempts=5)
    assert services.outbox_retry(source="reminders", pk=reminder.pk, user=administrator)
    assert not services.outbox_retry(source="reminders", pk=reminder.pk, user=administrator)
    assert list(AuditEvent.objects.filter(object_type="reminder").values_list("action", "username", "summary")) == [
        ("update", "administrator", {"retry": True, "changes": {"status": ["failed", "pending"], "attempts": [5, 0]}})
    ]


def test_lifting_a_lockout_that_is_not_there_writes_nothing(administrator):
    assert not services.lockout_lift(username="nobody", user=administrator)
    assert not AuditEvent.objects.filter(action="unlock").exists()
