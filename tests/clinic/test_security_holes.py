"""Small holes closed: an empty unlock, an outside ``next=``, headers on static files and
error responses."""

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import path, reverse

from clinic.models import AuditEvent, StaffAlert
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def _lock(username):
    for _ in range(5):
        Client().post(reverse("login"), {"username": username, "password": "wrong"})


@pytest.mark.parametrize("username", ["", "   ", "\u200b", "\u200b\u200e "])
def test_an_empty_unlock_is_refused_and_lifts_no_lock(client_for, administrator, nurse, scheduler, username):
    _lock("nurse")
    _lock("scheduler")
    response = client_for(administrator).post(reverse("clinic:audit-unlock"), {"username": username}, follow=True)
    assert response.status_code == 200
    assert "Choose a locked-out user name" in response.content.decode()
    assert set(AccessAttempt.objects.values_list("username", flat=True)) == {"nurse", "scheduler"}
    assert not AuditEvent.objects.filter(action="unlock").exists()
    assert Client().post(reverse("login"), {"username": "nurse", "password": PASSWORD}).status_code == 429


@pytest.mark.parametrize(
    "wanted", ["https://evil.test/", "//evil.test/", "https:evil.test", "/\\evil.test", "http://testserver.evil.test/"]
)
def test_acknowledging_an_alert_never_goes_to_another_site(client_for, nurse, wanted):
    alert = StaffAlert.objects.create(kind="t", message="Look", audience="nurse", dedupe_key="t1")
    url = reverse("clinic:alert-acknowledge", args=[alert.pk])
    response = client_for(nurse).post(url, {"next": wanted})
    assert response.status_code == 302
    assert response["Location"] == reverse("clinic:alerts")


def test_acknowledging_an_alert_returns_to_a_page_of_this_site(client_for, nurse):
    alert = StaffAlert.objects.create(kind="t", message="Look", audience="nurse", dedupe_key="t2")
    response = client_for(nurse).post(reverse("clinic:alert-acknowledge", args=[alert.pk]), {"next": "/board/"})
    assert response["Location"] == "/board/"


def test_sign_in_never_goes_to_another_site(client, nurse):
    response = client.post(reverse("login") + "?next=https://evil.test/", {"username": "nurse", "password": PASSWORD})
    assert response.status_code == 302
    assert "evil.test" not in response["Location"]


def _assert_headers(response):
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_static_files_carry_the_security_headers(settings):
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = False
    response = Client().get("/static/css/app.css")
    assert response.status_code == 200
    _assert_headers(response)


def test_error_responses_carry_the_security_headers(client_for, nurse, settings):
    settings.DEBUG = False
    bad_host = Client().get("/accounts/login/", HTTP_HOST="evil.test")
    assert bad_host.status_code == 400
    _assert_headers(bad_host)
    client = client_for(nurse)
    forbidden = client.get(reverse("clinic:audit"))
    assert forbidden.status_code == 403
    _assert_headers(forbidden)
    missing = client.get("/no-such-page/")
    assert missing.status_code == 404
    _assert_headers(missing)


def boom(request):
    raise RuntimeError("internal")


@pytest.mark.urls("tests.clinic.test_security_holes")
def test_a_server_error_carries_the_security_headers(client_for, nurse, settings):
    settings.DEBUG = False
    client = client_for(nurse)
    client.raise_request_exception = False
    response = client.get("/boom/")
    assert response.status_code == 500
    _assert_headers(response)


urlpatterns = [path("boom/", boom)]
handler500 = "clinic.views.server_error"
