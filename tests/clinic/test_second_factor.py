"""The second factor at sign-in (TOTP app, recovery codes), required for administrators and
prescribers, audited, through the real sign-in page."""

import re
import time

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic.models import AuditEvent
from clinic.second_factor import PENDING_KEY_SESSION_KEY
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _production_default(settings):
    settings.OTP_REQUIRED_ROLES = ["Administrator", "Prescriber"]


def sign_in(username) -> Client:
    client = Client()
    response = client.post(reverse("login"), {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def code(key_hex: str) -> str:
    """The code an authenticator app with this key shows now."""
    return f"{totp(bytes.fromhex(key_hex), t0=0, step=30, digits=6, drift=0):06d}"


def enrol(client) -> tuple[str, list[str]]:
    page = client.get(reverse("second-factor-setup"))
    assert page.status_code == 200
    key = client.session[PENDING_KEY_SESSION_KEY]
    response = client.post(reverse("second-factor-setup"), {"code": code(key)})
    assert response.status_code == 200
    codes = re.findall(r"<li>([0-9a-f]{4}-[0-9a-f]{4})</li>", response.content.decode())
    return key, codes


def events(user, event):
    return AuditEvent.objects.filter(action="second_factor", user=user, summary__event=event)


def test_an_administrator_must_set_up_an_authenticator_before_any_page(administrator):
    client = sign_in("administrator")
    response = client.get(reverse("clinic:audit"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("second-factor-setup"))
    assert "next=%2Faudit%2F" in response["Location"]
    assert client.get("/admin/").status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert 'src="data:image/svg+xml' in page and "Cannot scan?" in page
    key = client.session[PENDING_KEY_SESSION_KEY]
    wrong = client.post(reverse("second-factor-setup"), {"code": "000000" if code(key) != "000000" else "111111"})
    assert "does not match" in wrong.content.decode()
    assert not TOTPDevice.objects.filter(user=administrator).exists()
    assert events(administrator, "set-up code refused").count() == 1
    key, codes = enrol(client)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert TOTPDevice.objects.get(user=administrator).confirmed
    assert events(administrator, "authenticator set up").count() == 1
    assert events(administrator, "recovery codes issued").count() == 1
    assert client.get(reverse("clinic:audit")).status_code == 200
    assert client.get("/admin/").status_code == 200
    every_summary = str(list(AuditEvent.objects.values_list("summary", flat=True)))
    assert key not in every_summary and codes[0] not in every_summary


def test_the_next_sign_in_asks_for_the_code(administrator):
    key, _codes = enrol(sign_in("administrator"))
    client = sign_in("administrator")
    response = client.get(reverse("clinic:outbox"))
    assert response["Location"].startswith(reverse("second-factor"))
    assert client.post(reverse("clinic:audit-unlock"), {"username": "nurse"}).status_code == 302
    refused = client.post(reverse("second-factor"), {"code": "12345x", "next": "/outbox/"})
    assert "not right" in refused.content.decode()
    assert events(administrator, "code refused").count() == 1
    # The set-up code cannot be used again; the app's next code can.
    with time_machine.travel(time.time() + 30, tick=False):
        ok = client.post(reverse("second-factor"), {"code": code(key), "next": "/outbox/"})
    assert ok.status_code == 302 and ok["Location"] == "/outbox/"
    assert events(administrator, "verified by authenticator").count() == 1
    assert client.get(reverse("clinic:outbox")).status_code == 200


def test_a_recovery_code_works_once(prescriber):
    _key, codes = enrol(sign_in("prescriber"))
    client = sign_in("prescriber")
    response = client.post(reverse("second-factor"), {"code": codes[3], "next": "/board/"})
    assert response["Location"] == "/board/"
    assert events(prescriber, "verified by recovery code").count() == 1
    assert StaticToken.objects.filter(device__user=prescriber).count() == 9
    again = sign_in("prescriber").post(reverse("second-factor"), {"code": codes[3]})
    assert again.status_code == 200 and "not right" in again.content.decode()


def test_the_code_page_returns_only_to_this_site(administrator):
    key, _ = enrol(sign_in("administrator"))
    client = sign_in("administrator")
    with time_machine.travel(time.time() + 30, tick=False):
        response = client.post(reverse("second-factor"), {"code": code(key), "next": "https://evil.test/"})
    assert response["Location"] == reverse("home")


def test_roles_outside_the_setting_sign_in_with_a_password(nurse, scheduler):
    assert sign_in("nurse").get(reverse("clinic:patient-list")).status_code == 200
    assert sign_in("scheduler").get(reverse("clinic:patient-list")).status_code == 200


def test_the_setting_decides_which_roles_need_it(nurse, settings):
    settings.OTP_REQUIRED_ROLES = ["Nurse"]
    assert sign_in("nurse").get(reverse("clinic:patient-list")).status_code == 302


def test_anyone_who_set_one_up_is_asked_for_it(nurse):
    client = sign_in("nurse")
    key, _ = enrol(client)
    assert client.get(reverse("clinic:patient-list")).status_code == 200
    again = sign_in("nurse")
    assert again.get(reverse("clinic:patient-list"))["Location"].startswith(reverse("second-factor"))


def test_new_recovery_codes_need_a_verified_session_and_replace_the_old(administrator):
    client = sign_in("administrator")
    _key, old = enrol(client)
    response = client.post(reverse("recovery-codes"))
    new = re.findall(r"<li>([0-9a-f]{4}-[0-9a-f]{4})</li>", response.content.decode())
    assert len(new) == 10 and not set(new) & set(old)
    assert set(StaticToken.objects.filter(device__user=administrator).values_list("token", flat=True)) == set(new)
    unverified = sign_in("administrator")
    assert unverified.post(reverse("recovery-codes")).status_code == 302
    assert set(StaticToken.objects.filter(device__user=administrator).values_list("token", flat=True)) == set(new)


def test_an_unverified_user_cannot_replace_the_authenticator(administrator):
    enrol(sign_in("administrator"))
    client = sign_in("administrator")
    response = client.get(reverse("second-factor-setup"))
    assert response["Location"].startswith(reverse("second-factor"))


def test_the_account_page_links_password_and_second_factor(client_for, nurse):
    page = client_for(nurse).get(reverse("account")).content.decode()
    assert reverse("password_change") in page and reverse("second-factor-setup") in page
