"""Secret tokens that let another system read from the app without a staff sign-in: an EHR
reading the FHIR export, or a calendar application subscribing to a site's session feed.

Only a hash of each token is stored: the token itself is shown once, when an administrator
creates it. A revoked token stops working at once and stays listed with who revoked it."""

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import fields

TOKEN_BYTES = 32  # 256 bits of randomness, 43 URL-safe characters


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


class IntegrationToken(models.Model):
    class Purpose(models.TextChoices):
        FHIR = "fhir", _("FHIR export (EHR)")
        CALENDAR = "calendar", _("Calendar feed of a site")

    name = fields.CharField(max_length=120, help_text=_("Who uses it, e.g. “Epic interface engine”."))
    purpose = models.CharField(max_length=12, choices=Purpose.choices)
    # A calendar feed shows one site's sessions; a FHIR token reads every patient.
    site = models.ForeignKey("clinic.Site", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters of the token, so an administrator can tell tokens apart.
    prefix = models.CharField(max_length=8, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["revoked_at", "-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(purpose="calendar") | models.Q(site__isnull=False),
                name="integration_token_calendar_has_site",
            ),
            models.CheckConstraint(
                condition=models.Q(revoked_at__isnull=True) | models.Q(revoked_by__isnull=False),
                name="integration_token_revoked_by_someone",
            ),
        ]
        permissions = [
            ("manage_integrations", "Can create and revoke integration tokens"),
            ("import_patients", "Can import patients from a CSV file"),
        ]

    def __str__(self):
        return f"{self.name} ({self.get_purpose_display()}, {self.prefix}…)"

    @property
    def active(self) -> bool:
        return self.revoked_at is None
