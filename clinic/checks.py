"""System checks of the core app (run by manage.py commands and at web start-up, clinic.wsgi)."""

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=False)
def audit_chain_key_check(app_configs=None, **kwargs):
    """With DEBUG=False the audit chain needs a long secret key: without one, anyone who can
    write the audit table can rebuild a valid chain after editing it."""
    if settings.DEBUG or len(settings.AUDIT_CHAIN_KEY) >= settings.AUDIT_CHAIN_KEY_MIN_LENGTH:
        return []
    return [
        Error(
            f"AUDIT_CHAIN_KEY is {'missing' if not settings.AUDIT_CHAIN_KEY else 'too short'}: with DEBUG=False "
            f"it must be a random secret of at least {settings.AUDIT_CHAIN_KEY_MIN_LENGTH} characters.",
            hint="python3 -c 'import secrets; print(secrets.token_urlsafe(50))' (keep it outside the database; "
            "never change it afterwards)",
            id="clinic.E001",
        )
    ]
