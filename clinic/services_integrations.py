"""Writes of the integration tokens: create (the token is returned once), revoke, and the
check of a token another system presents (which notes when it was last used)."""

from django.db import transaction
from django.utils import timezone

from .audit import audit_record, audit_value
from .models import AuditAction, Site
from .models_integrations import IntegrationToken, new_token, token_digest


@transaction.atomic
def integration_token_create(
    *, name: str, purpose: str, site: Site | None, user, request=None
) -> tuple[IntegrationToken, str]:
    """A new token and its secret (shown once; only its hash is kept)."""
    secret = new_token()
    token = IntegrationToken.objects.create(
        name=name,
        purpose=purpose,
        site=site if purpose == IntegrationToken.Purpose.CALENDAR else None,
        token_hash=token_digest(secret),
        prefix=secret[:8],
        created_by=user,
    )
    audit_record(
        action=AuditAction.CREATE,
        request=request,
        user=user,
        obj=token,
        summary={
            "name": name,
            "purpose": purpose,
            "site": token.site_id,
            "prefix": token.prefix,
            "changes": {
                "name": [None, name],
                "purpose": [None, purpose],
                "site": [None, site.name if token.site_id else None],
                "prefix": [None, token.prefix],
            },
        },
    )
    return token, secret


@transaction.atomic
def integration_token_revoke(*, token: IntegrationToken, user, request=None) -> bool:
    """Revoke ``token``; False when it was already revoked (nothing written)."""
    now = timezone.now()
    changed = IntegrationToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=now, revoked_by=user
    )
    if changed != 1:
        return False
    changes = {"revoked_at": [None, audit_value(now)], "revoked_by": [None, user.get_username() if user else None]}
    audit_record(
        action=AuditAction.UPDATE,
        request=request,
        user=user,
        obj=token,
        summary={"revoked": True, "name": token.name, "changes": changes},
    )
    return True


def integration_token_use(*, secret: str, purpose: str) -> IntegrationToken | None:
    """The active token of ``purpose`` whose secret this is, with its last use noted, or None.
    The caller audits what the token was used for."""
    if not secret or len(secret) > 100:
        return None
    token = (
        IntegrationToken.objects.select_related("site")
        .filter(token_hash=token_digest(secret), purpose=purpose, revoked_at__isnull=True)
        .first()
    )
    if token is not None:
        now = timezone.now()
        IntegrationToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def token_audit_name(token: IntegrationToken) -> str:
    """How the audit trail names a request made with ``token``."""
    return f"token:{token.prefix} {token.name}"[:150]
