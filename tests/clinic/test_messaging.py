"""Channels: e-mail through Django's e-mail framework, SMS through SMS_BACKEND (outbox or an
HTTP gateway, tested against a small fake gateway on 127.0.0.1)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail

from clinic.messaging import (
    HttpSmsGateway,
    OutboxEmailBackend,
    PermanentSendError,
    TransientSendError,
    message_send,
)
from clinic.models import OutboxMessage

pytestmark = pytest.mark.django_db


class FakeGateway(BaseHTTPRequestHandler):
    """Answers with the status queued in ``server.responses`` (200 when empty) and keeps
    every request it received."""

    def do_POST(self):  # noqa: N802 (http.server naming)
        length = int(self.headers.get("Content-Length", 0))
        self.server.received.append({"headers": dict(self.headers), "body": json.loads(self.rfile.read(length))})
        status = self.server.responses.pop(0) if self.server.responses else 200
        payload = json.dumps({"id": f"msg-{len(self.server.received)}"} if status == 200 else {"error": "nope"})
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(payload.encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def gateway():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGateway)
    server.received, server.responses = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}/send"
    yield server
    server.shutdown()
    server.server_close()


def test_it_stores_email_in_the_outbox(settings):
    settings.EMAIL_BACKEND = "clinic.messaging.OutboxEmailBackend"
    message_send(
        channel="email", to="pat@example.com", subject="Hello", body="Text", html_body="<p>Html</p>", reference="r:1"
    )
    row = OutboxMessage.objects.get()
    assert (row.channel, row.to, row.subject, row.body, row.html_body) == (
        "email",
        "pat@example.com",
        "Hello",
        "Text",
        "<p>Html</p>",
    )
    assert (row.status, row.reference, row.backend) == ("sent", "r:1", "clinic.messaging.OutboxEmailBackend")


def test_it_is_a_real_django_email_backend(settings):
    settings.EMAIL_BACKEND = "clinic.messaging.OutboxEmailBackend"
    sent = mail.send_mail("Subject", "Body", "clinic@example.com", ["a@example.com", "b@example.com"])
    assert sent == 1
    assert sorted(OutboxMessage.objects.values_list("to", flat=True)) == ["a@example.com", "b@example.com"]
    assert OutboxEmailBackend().send_messages([]) == 0


def test_it_records_email_sent_through_another_backend(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    message_send(channel="email", to="pat@example.com", subject="Hi", body="Text", reference="r:2")
    assert len(mail.outbox) == 1 and mail.outbox[0].extra_headers["X-Clinic-Reference"] == "r:2"
    assert OutboxMessage.objects.get().backend == "django.core.mail.backends.locmem.EmailBackend"


def test_it_stores_sms_in_the_outbox_by_default(settings):
    settings.SMS_BACKEND = "clinic.messaging.OutboxSmsBackend"
    message_send(channel="sms", to="+12125550142", body="See you Tue 9:00 AM", reference="r:3")
    row = OutboxMessage.objects.get()
    assert (row.channel, row.to, row.body, row.status) == ("sms", "+12125550142", "See you Tue 9:00 AM", "sent")


def test_it_posts_to_the_gateway_with_the_bearer_token(gateway, settings):
    settings.SMS_BACKEND = "clinic.messaging.HttpSmsGateway"
    settings.SMS_GATEWAY_URL = gateway.url
    settings.SMS_GATEWAY_TOKEN = "t0ken"
    message_send(channel="sms", to="+12125550142", body="Hello", reference="reminder:7")
    [request] = gateway.received
    assert request["headers"]["Authorization"] == "Bearer t0ken"
    assert request["headers"]["Idempotency-Key"] == "reminder:7"
    assert request["body"] == {"to": "+12125550142", "body": "Hello", "reference": "reminder:7"}
    row = OutboxMessage.objects.get()
    assert (row.status, row.backend) == ("sent", "clinic.messaging.HttpSmsGateway")


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_it_treats_gateway_overload_as_transient(gateway, status):
    gateway.responses.append(status)
    with pytest.raises(TransientSendError):
        HttpSmsGateway(url=gateway.url, token="x").send(to="+12125550142", body="Hi")


@pytest.mark.parametrize("status", [400, 401, 403, 422])
def test_it_treats_a_refusal_as_permanent(gateway, status):
    gateway.responses.append(status)
    with pytest.raises(PermanentSendError):
        HttpSmsGateway(url=gateway.url, token="x").send(to="+12125550142", body="Hi")


def test_it_treats_an_unreachable_gateway_as_transient(gateway):
    url = gateway.url
    gateway.shutdown()
    gateway.server_close()
    with pytest.raises(TransientSendError):
        HttpSmsGateway(url=url, token="x", timeout=2).send(to="+12125550142", body="Hi")


def test_it_records_a_failed_delivery(gateway, settings):
    settings.SMS_BACKEND = "clinic.messaging.HttpSmsGateway"
    settings.SMS_GATEWAY_URL = gateway.url
    gateway.responses.append(503)
    with pytest.raises(TransientSendError):
        message_send(channel="sms", to="+12125550142", body="Hello", reference="reminder:8")
    row = OutboxMessage.objects.get()
    assert row.status == "failed" and "503" in row.error


def test_it_refuses_a_gateway_url_that_is_not_http():
    with pytest.raises(PermanentSendError):
        HttpSmsGateway(url="file:///etc/passwd", token="x")
