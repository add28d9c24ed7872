"""The Integrations page: an administrator creates a token (shown once, only its hash kept)
and revokes it; both are audited; other roles cannot reach the page."""

import pytest
from django.urls import reverse
from django.utils import timezone

from clinic import formats
from clinic.models import AuditEvent
from clinic.models_integrations import IntegrationToken, token_digest

pytestmark = pytest.mark.django_db


def test_an_administrator_creates_a_token_that_is_shown_once(client_for, administrator):
    client = client_for(administrator)
    response = client.post(reverse("clinic:integrations"), {"name": "Epic interface engine", "purpose": "fhir"})
    assert response.status_code == 302
    response = client.get(response.url)
    secret = response.context["created"]["secret"]
    assert secret in response.content.decode()
    token = IntegrationToken.objects.get()
    assert token.token_hash == token_digest(secret) and secret not in token.token_hash
    assert token.created_by == administrator and token.site is None
    assert AuditEvent.objects.filter(action="create", object_type="integrationtoken", object_id=str(token.pk)).exists()
    again = client.get(reverse("clinic:integrations")).content.decode()
    assert secret not in again and token.prefix in again


def test_a_calendar_feed_needs_a_site(client_for, administrator):
    response = client_for(administrator).post(reverse("clinic:integrations"), {"name": "Desk", "purpose": "calendar"})
    assert "Choose the site whose sessions the calendar feed shows." in response.content.decode()
    assert not IntegrationToken.objects.exists()


def test_an_administrator_revokes_a_token(client_for, administrator, site):
    client = client_for(administrator)
    client.post(reverse("clinic:integrations"), {"name": "Desk", "purpose": "calendar", "site": site.pk})
    token = IntegrationToken.objects.get()
    response = client.post(reverse("clinic:integration-revoke", args=[token.pk]), follow=True)
    assert "no longer works" in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None and token.revoked_by == administrator
    # Times in the clinic's format (clinic/formats.py), like every page.
    assert f"Revoked {formats.when(timezone.localtime(token.revoked_at), 'datetime')}" in response.content.decode()
    assert AuditEvent.objects.filter(action="update", object_type="integrationtoken", summary__revoked=True).exists()


@pytest.mark.parametrize("role", ["scheduler", "nurse", "prescriber"])
def test_other_roles_cannot_manage_tokens(client_for, personas, role):
    client = client_for(personas[role])
    assert client.get(reverse("clinic:integrations")).status_code == 403
    assert client.post(reverse("clinic:integrations"), {"name": "x", "purpose": "fhir"}).status_code == 403
    assert not IntegrationToken.objects.exists()


def test_the_navigation_offers_integrations_to_administrators_only(client_for, administrator, nurse):
    url = reverse("clinic:integrations")
    assert f'href="{url}"' in client_for(administrator).get(reverse("clinic:patient-list")).content.decode()
    assert f'href="{url}"' not in client_for(nurse).get(reverse("clinic:patient-list")).content.decode()
