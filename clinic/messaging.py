"""Messages to patients: one interface, two channels.

``message_send(channel=..., to=..., body=..., ...)`` delivers one message and records it in
the outbox (``OutboxMessage``), whatever the backend:

- e-mail goes through Django's e-mail framework (``EMAIL_BACKEND``). The default
  ``OutboxEmailBackend`` only stores the message; an SMTP backend really sends it.
- SMS goes through ``SMS_BACKEND``: ``OutboxSmsBackend`` (default, stores only) or
  ``HttpSmsGateway`` (POSTs JSON to ``SMS_GATEWAY_URL`` with a bearer token).

Errors: ``TransientSendError`` (worth retrying: timeouts, connection errors, HTTP 429/5xx)
and ``PermanentSendError`` (a retry would fail the same way: HTTP 4xx, bad address).

Callers that must record "sent" exactly once (the reminder task) call ``message_send``
inside the same database transaction as their own status update: with the outbox backends
the message row and the status commit together or not at all.

Backends that only store (the outbox backends) also offer ``store_many``: ``batch_store``
returns a function that records many messages in one INSERT, for the reminder task's batches.
"""

import json
import logging
import smtplib
import urllib.error
import urllib.request
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.utils.module_loading import import_string

from .models import OutboxMessage

logger = logging.getLogger(__name__)

REFERENCE_HEADER = "X-Clinic-Reference"


class SendError(Exception):
    """A message could not be delivered."""


class TransientSendError(SendError):
    """Delivery failed for a reason that may go away (network, gateway overloaded)."""


class PermanentSendError(SendError):
    """Delivery failed for a reason a retry will not fix (refused address, bad request)."""


@dataclass(frozen=True)
class Outgoing:
    """One message for ``batch_store``."""

    to: str
    body: str
    subject: str = ""
    html_body: str = ""
    reference: str = ""


def _store_many(backend, channel: str, messages: list[Outgoing]) -> None:
    OutboxMessage.objects.bulk_create(
        OutboxMessage(
            channel=channel,
            backend=_backend_name(backend),
            to=m.to,
            subject=m.subject,
            body=m.body,
            html_body=m.html_body,
            reference=m.reference,
        )
        for m in messages
    )


@dataclass(frozen=True)
class SmsResult:
    reference: str
    provider_id: str = ""


# --- E-mail ---------------------------------------------------------------------------


class OutboxEmailBackend(BaseEmailBackend):
    """A Django e-mail backend that stores each message as an OutboxMessage row."""

    records_outbox = True

    def send_messages(self, email_messages):
        sent = 0
        for message in email_messages:
            html = ""
            for content, mimetype in getattr(message, "alternatives", []):
                if mimetype == "text/html":
                    html = content
            for to in message.recipients():
                OutboxMessage.objects.create(
                    channel="email",
                    backend=_backend_name(self),
                    to=to,
                    subject=message.subject,
                    body=message.body,
                    html_body=html,
                    reference=message.extra_headers.get(REFERENCE_HEADER, ""),
                )
            sent += 1
        return sent

    def store_many(self, messages: list[Outgoing]) -> None:
        """Record many e-mails in one INSERT (same rows as send_messages)."""
        _store_many(self, "email", messages)


def _send_email(*, to: str, subject: str, body: str, html_body: str, reference: str) -> bool:
    """Send through EMAIL_BACKEND; returns True when the backend recorded the outbox row."""
    connection = get_connection(fail_silently=False)
    message = EmailMultiAlternatives(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={REFERENCE_HEADER: reference} if reference else None,
        connection=connection,
    )
    if html_body:
        message.attach_alternative(html_body, "text/html")
    try:
        message.send()
    except smtplib.SMTPRecipientsRefused as exc:
        raise PermanentSendError(f"e-mail address refused: {to}") from exc
    except smtplib.SMTPResponseException as exc:
        error = TransientSendError if 400 <= exc.smtp_code < 500 else PermanentSendError
        raise error(f"e-mail refused: {exc.smtp_code} {exc.smtp_error!r}") from exc
    except OSError as exc:  # connection refused or dropped, timeouts (smtplib errors are OSErrors)
        raise TransientSendError(f"e-mail server unavailable: {exc}") from exc
    return getattr(connection, "records_outbox", False)


# --- SMS ------------------------------------------------------------------------------


class SmsBackend:
    """Interface for SMS backends. ``send`` returns an SmsResult or raises a SendError."""

    records_outbox = False

    def send(self, *, to: str, body: str, reference: str = "") -> SmsResult:
        raise NotImplementedError


class OutboxSmsBackend(SmsBackend):
    """Stores each SMS as an OutboxMessage row (the default: visible at /outbox/)."""

    records_outbox = True

    def send(self, *, to: str, body: str, reference: str = "") -> SmsResult:
        OutboxMessage.objects.create(channel="sms", backend=_backend_name(self), to=to, body=body, reference=reference)
        return SmsResult(reference=reference)

    def store_many(self, messages: list[Outgoing]) -> None:
        """Record many SMS in one INSERT (same rows as send)."""
        _store_many(self, "sms", messages)


class HttpSmsGateway(SmsBackend):
    """POST ``{"to", "body", "reference"}`` as JSON to SMS_GATEWAY_URL with
    ``Authorization: Bearer SMS_GATEWAY_TOKEN``. The reference also goes out as the
    ``Idempotency-Key`` header, so a gateway that honours it never delivers a repeat."""

    def __init__(self, url: str | None = None, token: str | None = None, timeout: int | None = None):
        self.url = url if url is not None else settings.SMS_GATEWAY_URL
        self.token = token if token is not None else settings.SMS_GATEWAY_TOKEN
        self.timeout = timeout if timeout is not None else settings.SMS_GATEWAY_TIMEOUT
        if not self.url.startswith(("http://", "https://")):
            raise PermanentSendError("SMS_GATEWAY_URL must be an http(s) URL")

    def send(self, *, to: str, body: str, reference: str = "") -> SmsResult:
        payload = json.dumps({"to": to, "body": body, "reference": reference}).encode()
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"}
        if reference:
            headers["Idempotency-Key"] = reference
        request = urllib.request.Request(self.url, data=payload, headers=headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (scheme checked)
                raw = response.read(65536)
        except urllib.error.HTTPError as exc:
            detail = exc.read(500).decode(errors="replace")
            if exc.code == 429 or exc.code >= 500:
                raise TransientSendError(f"SMS gateway busy or failing: HTTP {exc.code} {detail}") from exc
            raise PermanentSendError(f"SMS gateway refused the message: HTTP {exc.code} {detail}") from exc
        except OSError as exc:  # URLError, timeouts, connection refused or reset
            raise TransientSendError(f"SMS gateway unreachable: {exc}") from exc
        try:
            provider_id = str(json.loads(raw or b"{}").get("id", ""))
        except (ValueError, AttributeError):
            provider_id = ""
        return SmsResult(reference=reference, provider_id=provider_id)


def sms_backend() -> SmsBackend:
    return import_string(settings.SMS_BACKEND)()


# --- The one entry point --------------------------------------------------------------


def _backend_name(backend) -> str:
    return f"{type(backend).__module__}.{type(backend).__name__}"[:120]


def batch_store(channel: str):
    """``store(messages)`` for a channel whose backend only records messages in the outbox,
    else None (the backend delivers outside the database: send one at a time)."""
    backend = get_connection(fail_silently=False) if channel == "email" else sms_backend() if channel == "sms" else None
    return getattr(backend, "store_many", None)


def message_send(
    *, channel: str, to: str, body: str, subject: str = "", html_body: str = "", reference: str = ""
) -> None:
    """Deliver one message on ``channel`` ("sms" or "email") and record it in the outbox.

    Raises TransientSendError or PermanentSendError; a failed delivery through a real
    backend is recorded as a failed outbox row first (when the caller's transaction commits)."""
    if channel == "email":
        backend_name = settings.EMAIL_BACKEND

        def deliver():
            return _send_email(to=to, subject=subject, body=body, html_body=html_body, reference=reference)

    elif channel == "sms":
        backend = sms_backend()
        backend_name = _backend_name(backend)

        def deliver():
            backend.send(to=to, body=body, reference=reference)
            return backend.records_outbox

    else:
        raise PermanentSendError(f"unknown channel {channel!r}")
    record = {
        "channel": channel,
        "backend": backend_name[:120],
        "to": to,
        "subject": subject,
        "body": body,
        "html_body": html_body,
        "reference": reference,
    }
    try:
        recorded = deliver()
    except SendError as exc:
        OutboxMessage.objects.create(**record, status=OutboxMessage.Status.FAILED, error=str(exc)[:2000])
        raise
    if not recorded:
        OutboxMessage.objects.create(**record)
