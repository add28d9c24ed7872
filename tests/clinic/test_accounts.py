"""Staff change and reset their own password (Django's views; the reset mail goes through the
outbox), audited."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from clinic.models import AuditEvent, OutboxMessage
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
NEW = "quiet-harbour-lantern-42"  # noqa: S105


@pytest.fixture(autouse=True)
def _outbox_mail(settings):
    settings.EMAIL_BACKEND = "clinic.messaging.OutboxEmailBackend"


def test_a_nurse_changes_their_password(client_for, nurse):
    client = client_for(nurse)
    page = client.get(reverse("password_change"))
    assert page.status_code == 200
    short = client.post(
        reverse("password_change"), {"old_password": PASSWORD, "new_password1": "x", "new_password2": "x"}
    )
    assert "too short" in short.content.decode()
    response = client.post(
        reverse("password_change"), {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW}
    )
    assert response.status_code == 302
    nurse.refresh_from_db()
    assert nurse.check_password(NEW)
    event = AuditEvent.objects.get(action="password")
    assert (event.user, event.object_id, event.summary) == (nurse, str(nurse.pk), {"how": "changed by the user"})
    assert client.get(reverse("clinic:patient-list")).status_code == 200  # still signed in


def test_a_forgotten_password_is_reset_through_a_mailed_link(nurse):
    nurse.email = "nora@clinic.example"
    nurse.save()
    client = Client()
    assert "Forgot your password?" in client.get(reverse("login")).content.decode()
    response = client.post(reverse("password_reset"), {"email": "nora@clinic.example"})
    assert response.status_code == 302
    mail = OutboxMessage.objects.get(to="nora@clinic.example")
    assert mail.reference == "account"
    assert AuditEvent.objects.get(action="password_reset").username == "nurse"
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.body).group(1)
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200 and "Set a new password" in form_page.content.decode()
    done = client.post(form_page.redirect_chain[-1][0], {"new_password1": NEW, "new_password2": NEW})
    assert done.status_code == 302
    nurse.refresh_from_db()
    assert nurse.check_password(NEW)
    assert AuditEvent.objects.get(action="password").summary == {"how": "reset link"}
    assert client.get(link, follow=True).content.decode().count("has been used or has expired") == 1


def test_an_unknown_address_gets_the_same_page_and_no_mail(nurse):
    response = Client().post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_done")
    assert not OutboxMessage.objects.exists()
    assert not AuditEvent.objects.filter(action="password_reset").exists()
