"""The client's address: X-Forwarded-For trusted only from the configured number of proxies
(TRUSTED_PROXY_COUNT, default none), for the audit trail, the sign-in lockout and the patient
link's rate limit."""

import datetime as dt

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clinic.models import AuditEvent
from scheduling.links import confirm_token
from scheduling.models import Session

pytestmark = pytest.mark.django_db


def _fail_sign_in(forwarded: str, peer: str = "127.0.0.1"):
    Client(REMOTE_ADDR=peer).post(
        reverse("login"), {"username": "nurse", "password": "wrong"}, HTTP_X_FORWARDED_FOR=forwarded
    )


def test_without_proxies_a_forwarded_address_is_ignored(nurse):
    _fail_sign_in("6.6.6.6")
    assert AuditEvent.objects.get(action="login_failed").ip == "127.0.0.1"
    assert AccessAttempt.objects.get(username="nurse").ip_address == "127.0.0.1"


def test_behind_one_proxy_the_address_it_saw_is_the_client(nurse, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    # The client sent "6.6.6.6" itself; the proxy appended the address it received from.
    _fail_sign_in("6.6.6.6, 203.0.113.5", peer="10.0.0.1")
    assert AuditEvent.objects.get(action="login_failed").ip == "203.0.113.5"
    assert AccessAttempt.objects.get(username="nurse").ip_address == "203.0.113.5"


def test_behind_two_proxies(nurse, settings):
    settings.TRUSTED_PROXY_COUNT = 2
    _fail_sign_in("6.6.6.6, 203.0.113.5, 10.0.0.2", peer="10.0.0.1")
    assert AuditEvent.objects.get(action="login_failed").ip == "203.0.113.5"


def test_a_request_that_bypassed_the_proxies_is_its_peer(nurse, settings):
    settings.TRUSTED_PROXY_COUNT = 2
    _fail_sign_in("", peer="198.51.100.7")
    assert AuditEvent.objects.get(action="login_failed").ip == "198.51.100.7"


@pytest.fixture
def link(patient, site):
    start = timezone.now().replace(microsecond=0) + dt.timedelta(days=3)
    session = Session.objects.create(
        patient=patient,
        chair=site.chairs.first(),
        start=start,
        planned_end=start + dt.timedelta(hours=2),
        planned_dose_mg=56,
    )
    return reverse("confirm:session", args=[confirm_token(session.pk)])


def test_the_patient_link_limit_holds_whatever_forwarded_address_is_sent(link, settings):
    settings.CONFIRM_RATE_LIMIT = 20
    client = Client(REMOTE_ADDR="127.0.0.1")
    codes = [client.get(link, HTTP_X_FORWARDED_FOR=f"6.6.6.{n}").status_code for n in range(25)]
    assert codes[:20] == [200] * 20
    assert codes[20:] == [429] * 5
