"""The patient's confirmation link, sent in reminders.

A short token (it has to fit in a 160-character SMS): the session id and a truncated HMAC of
it. Links stay valid until the session starts; the confirm page checks that and the session's
state on every request, so the token itself carries no expiry."""

import base64

from django.conf import settings
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac

_TOKEN_SALT = "scheduling.confirm-link"  # noqa: S105 (a salt, not a secret)


def _token_mac(value: str) -> str:
    digest = salted_hmac(_TOKEN_SALT, value, algorithm="sha256").digest()[:12]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def confirm_token(session_id: int) -> str:
    value = format(session_id, "x")
    return f"{value}-{_token_mac(value)}"


def confirm_token_session_id(token: str) -> int | None:
    """The session id a token was made for, or None when it was not made by us."""
    value, _, mac = token.partition("-")
    if not value or len(token) > 64 or not constant_time_compare(mac, _token_mac(value)):
        return None
    try:
        return int(value, 16)
    except ValueError:
        return None


def confirm_url(session_id: int) -> str:
    path = reverse("confirm:session", args=[confirm_token(session_id)])
    return settings.PUBLIC_BASE_URL.rstrip("/") + path
