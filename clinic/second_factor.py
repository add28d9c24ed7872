"""The second factor at sign-in: a time-based one-time password (TOTP, an authenticator app)
through django-otp, and single-use recovery codes (django-otp's static device).

Who must use it: every member of a role in OTP_REQUIRED_ROLES (Administrator and Prescriber
by default; superusers count as administrators), and anyone who has set one up. Until they
have given a code, ``SecondFactorMiddleware`` (clinic.middleware) lets them reach only the
pages that set up or check the second factor, and signing out. Every step is audited."""

import base64
import secrets
import time

from django.conf import settings
from django.db import transaction
from django_otp import login as otp_login
from django_otp import match_token
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.util import random_hex

from .audit import audit_record
from .models import AuditAction
from .roles import user_role

ENROLLED_SESSION_KEY = "clinic_second_factor_enrolled"
PENDING_KEY_SESSION_KEY = "clinic_second_factor_pending_key"
RECOVERY_CODES = 10
AUTHENTICATOR = "authenticator"
RECOVERY = "recovery codes"


def is_required(request) -> bool:
    """Must this signed-in user give a second factor? From the role (no query: the role is read
    with the user) and, for anyone else, whether they had one set up when they signed in."""
    user = request.user
    if not user.is_authenticated:
        return False
    return user_role(user) in settings.OTP_REQUIRED_ROLES or bool(request.session.get(ENROLLED_SESSION_KEY))


def is_verified(request) -> bool:
    return bool(getattr(request.user, "is_verified", lambda: False)())


def has_device(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def remember_enrolment(request, user) -> None:
    """At sign-in: note whether the user has a second factor, so later requests need no query."""
    if request is not None and hasattr(request, "session"):
        request.session[ENROLLED_SESSION_KEY] = has_device(user)


def pending_key(request) -> str:
    """The key (hex) offered on the set-up page, kept in the session until it is confirmed."""
    key = request.session.get(PENDING_KEY_SESSION_KEY)
    if not key:
        key = random_hex(20)
        request.session[PENDING_KEY_SESSION_KEY] = key
    return key


def config_url(key_hex: str, username: str) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    secret = base64.b32encode(bytes.fromhex(key_hex)).decode().rstrip("=")
    issuer = settings.CLINIC_NAME.replace(":", "")
    return f"otpauth://totp/{issuer}:{username}?secret={secret}&issuer={issuer}&digits=6&period=30"


def secret_text(key_hex: str) -> str:
    """The key as an authenticator app takes it typed in (base32, in groups of four)."""
    secret = base64.b32encode(bytes.fromhex(key_hex)).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _totp_step(key_hex: str, token: str) -> int | None:
    """The time step the code belongs to when it matches the key (one step either side), else None."""
    token = token.strip().replace(" ", "")
    if not token.isdigit():
        return None
    totp = TOTP(bytes.fromhex(key_hex), step=30, t0=0, digits=6, drift=0)
    totp.time = time.time()
    return totp.t() if totp.verify(int(token), tolerance=1) else None


def recovery_codes_issue(*, user, request) -> list[str]:
    """New single-use recovery codes for ``user`` (the old ones stop working), audited. The
    codes are shown once; only django-otp's static tokens keep them."""
    device, _ = StaticDevice.objects.get_or_create(user=user, name=RECOVERY, defaults={"confirmed": True})
    device.token_set.all().delete()
    codes = [f"{secrets.token_hex(2)}-{secrets.token_hex(2)}" for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    audit_record(
        action=AuditAction.SECOND_FACTOR,
        request=request,
        user=user,
        object_type="user",
        object_id=user.pk,
        summary={"event": "recovery codes issued", "count": len(codes)},
    )
    return codes


@transaction.atomic
def second_factor_enrol(*, user, request, token: str) -> list[str] | None:
    """Confirm the authenticator set up with the session's pending key: the code must match.
    Replaces any earlier authenticator, marks this session verified and returns new recovery
    codes; None when the code is wrong (audited as a failure)."""
    key = request.session.get(PENDING_KEY_SESSION_KEY)
    step = _totp_step(key, token) if key else None
    if step is None:
        audit_record(
            action=AuditAction.SECOND_FACTOR,
            request=request,
            user=user,
            object_type="user",
            object_id=user.pk,
            summary={"event": "set-up code refused"},
        )
        return None
    replaced = TOTPDevice.objects.filter(user=user).delete()[0]
    # last_t: the set-up code cannot be used again to sign in.
    device = TOTPDevice.objects.create(user=user, name=AUTHENTICATOR, key=key, confirmed=True, last_t=step)
    del request.session[PENDING_KEY_SESSION_KEY]
    request.session[ENROLLED_SESSION_KEY] = True
    otp_login(request, device)
    audit_record(
        action=AuditAction.SECOND_FACTOR,
        request=request,
        user=user,
        object_type="user",
        object_id=user.pk,
        summary={"event": "authenticator set up", "replaced": bool(replaced)},
    )
    return recovery_codes_issue(user=user, request=request)


def second_factor_verify(*, user, request, token: str) -> bool:
    """Check a code from the authenticator or a recovery code (used up by this); on success the
    session is verified. Both outcomes are audited; django-otp slows down repeated failures."""
    device = match_token(user, token.strip())
    if device is not None:
        otp_login(request, device)
    used = "recovery code" if isinstance(device, StaticDevice) else "authenticator"
    audit_record(
        action=AuditAction.SECOND_FACTOR,
        request=request,
        user=user,
        object_type="user",
        object_id=user.pk,
        summary={"event": f"verified by {used}" if device else "code refused"},
    )
    return device is not None
