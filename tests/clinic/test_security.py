"""Security hardening: lockout, session lifetime, deploy checks, headers, error pages."""

import datetime as dt
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from clinic.models import AuditEvent
from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db
START = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)


def sign_in(client, username="nurse", password=PASSWORD):
    return client.post(reverse("login"), {"username": username, "password": password})


def signed_in(client) -> bool:
    response = client.get(reverse("clinic:alerts"))
    return response.status_code == 200


# --- Lockout --------------------------------------------------------------------------


def test_five_failures_lock_the_user_name_even_with_the_right_password(client, nurse):
    with time_machine.travel(START, tick=False):
        for _ in range(5):
            sign_in(client, password="wrong")
        response = sign_in(client)
    assert response.status_code == 429
    assert "locked" in response.content.decode().lower()
    assert not signed_in(client)
    assert AuditEvent.objects.filter(action="lockout", username="nurse").exists()
    assert AuditEvent.objects.filter(action="login_failed", username="nurse").count() >= 5


def test_the_lock_lifts_after_fifteen_minutes(client, nurse):
    with time_machine.travel(START, tick=False) as traveller:
        for _ in range(5):
            sign_in(client, password="wrong")
        traveller.shift(dt.timedelta(minutes=14))
        assert sign_in(client).status_code == 429
        traveller.shift(dt.timedelta(minutes=2))
        assert sign_in(client).status_code == 302
        assert signed_in(client)


def test_failures_spread_over_more_than_fifteen_minutes_do_not_lock(client, nurse):
    with time_machine.travel(START, tick=False) as traveller:
        for _ in range(4):
            sign_in(client, password="wrong")
        traveller.shift(dt.timedelta(minutes=16))
        sign_in(client, password="wrong")
        assert sign_in(client).status_code == 302


def test_an_administrator_unlocks_a_user_and_it_is_audited(client, nurse, administrator):
    for _ in range(5):
        sign_in(client, password="wrong")
    admin = Client()
    admin.force_login(administrator)
    page = admin.get(reverse("clinic:audit-lockouts")).content.decode()
    assert ">nurse<" in page
    response = admin.post(reverse("clinic:audit-unlock"), {"username": "nurse"})
    assert response.status_code == 302
    assert not AccessAttempt.objects.filter(username="nurse").exists()
    event = AuditEvent.objects.get(action="unlock")
    assert (event.username, event.object_id, event.summary) == ("administrator", str(nurse.pk), {"username": "nurse"})
    assert sign_in(client).status_code == 302


def test_only_administrators_unlock(client_for, nurse, scheduler):
    for _ in range(5):
        sign_in(Client(), password="wrong")
    response = client_for(scheduler).post(reverse("clinic:audit-unlock"), {"username": "nurse"})
    assert response.status_code == 403
    assert AccessAttempt.objects.filter(username="nurse").exists()


# --- Session lifetime -----------------------------------------------------------------


def test_fifteen_idle_minutes_sign_the_user_out(client, nurse):
    with time_machine.travel(START, tick=False) as traveller:
        client.force_login(nurse)
        assert signed_in(client)
        traveller.shift(dt.timedelta(minutes=14))
        assert signed_in(client)  # activity resets the idle clock
        traveller.shift(dt.timedelta(minutes=16))
        response = client.get(reverse("clinic:alerts"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert not signed_in(client)
    assert AuditEvent.objects.filter(action="logout", summary__reason="idle timeout").exists()


def test_activity_is_written_at_most_once_a_minute(client, nurse):
    with time_machine.travel(START, tick=False) as traveller:
        client.force_login(nurse)
        signed_in(client)
        first = client.session["last_activity"]
        traveller.shift(dt.timedelta(seconds=30))
        signed_in(client)
        assert client.session["last_activity"] == first  # the session row was not rewritten
        traveller.shift(dt.timedelta(seconds=31))
        signed_in(client)
        assert client.session["last_activity"] == first + 61


def test_board_refreshes_do_not_count_as_activity(client, nurse):
    with time_machine.travel(START, tick=False) as traveller:
        client.force_login(nurse)
        signed_in(client)
        for _ in range(4):
            traveller.shift(dt.timedelta(minutes=5))
            client.get(reverse("clinic:alerts"), headers={"X-Idle-Refresh": "1"})
        assert not signed_in(client)


def test_twelve_hours_sign_the_user_out_whatever_the_activity(client, nurse):
    with time_machine.travel(START, tick=False) as traveller:
        client.force_login(nurse)
        for _ in range(int(12 * 60 / 14)):
            traveller.shift(dt.timedelta(minutes=14))
            assert signed_in(client)
        traveller.shift(dt.timedelta(minutes=14))
        assert not signed_in(client)
    assert AuditEvent.objects.filter(action="logout", summary__reason="session time limit").exists()


def test_the_session_key_changes_at_sign_in(client, nurse):
    before = client.session
    before["prelogin"] = True
    before.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = before.session_key
    assert sign_in(client).status_code == 302
    after = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert after != before.session_key
    assert not Session.objects.filter(session_key=before.session_key).exists()


def test_sign_out_ends_the_session(client, nurse):
    sign_in(client)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    client.post(reverse("logout"))
    assert not Session.objects.filter(session_key=key).exists()
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = key
    assert not signed_in(replay)


def test_deactivating_a_user_ends_their_sessions(client, nurse, scheduler):
    sign_in(client)
    other = Client()
    sign_in(other, username="scheduler")
    assert signed_in(client)
    nurse.is_active = False
    nurse.save()
    assert not signed_in(client)
    assert signed_in(other)  # other people's sessions are untouched
    event = AuditEvent.objects.get(action="logout", actor="system")
    assert event.summary == {"reason": "account deactivated", "sessions_ended": 1}


def test_passwords_must_be_strong():
    for weak in ("short1", "password1234", "123456789012", "nurse-nurse-nurse"[:8]):
        with pytest.raises(ValidationError):
            validate_password(weak)
    validate_password("tidal-ember-quartz-97")


# --- Production settings, headers, pages ----------------------------------------------


def _check_deploy(**extra):
    env = {
        **os.environ,
        "DEBUG": "False",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "AUDIT_CHAIN_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "clinic.example.org",
        "DJANGO_SETTINGS_MODULE": "clinic.settings",
        **extra,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("extra", [{}, {"BEHIND_TLS_PROXY": "True", "SECURE_SSL_REDIRECT": "False"}])
def test_check_deploy_passes_under_production_settings(extra):
    result = _check_deploy(**extra)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key():
    result = _check_deploy(SECRET_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_every_response_carries_the_security_headers(client, client_for, nurse):
    for response in (client.get(reverse("login")), client_for(nurse).get(reverse("clinic:patient-list"))):
        csp = response["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "style-src 'self'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response["X-Frame-Options"] == "DENY"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["X-Content-Type-Options"] == "nosniff"


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<style\b|\sstyle=|\son[a-z]+=", re.I)


def test_templates_have_no_inline_scripts_styles_or_event_handlers():
    """The Content-Security-Policy would block them in the browser."""
    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        if "emails" in path.parts:  # e-mail bodies are read in mail clients, not under our CSP
            continue
        text = path.read_text()
        if INLINE_SCRIPT.search(text) or INLINE_STYLE.search(text):
            offenders.append(str(path.relative_to(ROOT)))
    assert not offenders


def test_every_post_form_carries_a_csrf_token():
    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        for form in re.findall(r"<form\b[^>]*method=\"post\"[^>]*>.*?</form>", path.read_text(), re.I | re.S):
            if "csrf_token" not in form:
                offenders.append(str(path.relative_to(ROOT)))
    assert not offenders


def test_a_post_without_the_csrf_token_is_refused(nurse):
    client = Client(enforce_csrf_checks=True)
    client.force_login(nurse)
    assert client.post(reverse("logout")).status_code == 403


def _form_token(page: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def test_the_csrf_secret_lives_in_the_session_and_is_renewed_at_sign_in(nurse):
    client = Client(enforce_csrf_checks=True)
    login_page = client.get(reverse("login"))
    assert "csrftoken" not in login_page.cookies  # kept in the session the sign-in page starts
    before = _form_token(login_page.content.decode())
    form = {"username": "nurse", "password": PASSWORD, "csrfmiddlewaretoken": before}
    assert client.post(reverse("login"), form).status_code == 302
    page = client.get(reverse("clinic:patient-list"))
    # No CSRF cookie renewed on every page: the navigation's sign-out form uses the session's secret.
    assert page.status_code == 200 and "csrftoken" not in page.cookies
    assert client.post(reverse("logout"), {"csrfmiddlewaretoken": before}).status_code == 403
    assert signed_in(client)
    assert (
        client.post(reverse("logout"), {"csrfmiddlewaretoken": _form_token(page.content.decode())}).status_code == 302
    )
    assert not signed_in(client)


def test_not_found_page_is_friendly_and_leaks_nothing(client_for, nurse, settings):
    settings.DEBUG = False
    response = client_for(nurse).get("/patients/999999/")
    page = response.content.decode()
    assert response.status_code == 404
    assert "Page not found" in page
    for leak in ("Traceback", "urlpatterns", "No Patient matches", "clinic.urls", "DEBUG"):
        assert leak not in page


def test_forbidden_page_is_friendly_and_audited(client_for, nurse):
    response = client_for(nurse).get(reverse("clinic:audit"))
    assert response.status_code == 403
    assert "You do not have access to this page" in response.content.decode()
    assert AuditEvent.objects.filter(action="denied", username="nurse").exists()


def boom(request):
    raise RuntimeError("secret-internal-detail")


@pytest.mark.urls("tests.clinic.test_security")
def test_server_error_page_is_friendly_and_leaks_nothing(client_for, nurse, settings):
    settings.DEBUG = False
    client = client_for(nurse)
    client.raise_request_exception = False
    response = client.get("/boom/")
    page = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong" in page
    assert "secret-internal-detail" not in page and "Traceback" not in page


def test_bandit_reports_no_high_severity_finding():
    bandit = Path(sys.executable).parent / "bandit"
    result = subprocess.run(
        [
            str(bandit),
            "-q",
            "-c",
            "pyproject.toml",
            "-r",
            "clinic",
            "scheduling",
            "monitoring",
            "--severity-level",
            "high",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _urlpatterns():
    from django.urls import include, path

    return [path("boom/", boom), path("", include("clinic.urls"))]


urlpatterns = _urlpatterns()
handler500 = "clinic.views.server_error"
