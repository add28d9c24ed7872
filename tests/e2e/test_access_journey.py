"""Journey 5: access. A nurse opening the audit report gets the friendly 403 page; a
logged-out user is sent to login and comes back to the page they asked for."""

import pytest

from tests.e2e.conftest import axe_violations, login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_nurse_gets_friendly_403_on_the_audit_report(new_page, shots, nurse):
    page = new_page()
    login(page, "nurse")
    response = page.goto("/audit/")
    assert response.status == 403
    page.get_by_role("heading", name="You do not have access to this page").wait_for()
    assert "Traceback" not in page.content()
    shots(page, "nurse-403")


def test_logged_out_user_is_sent_to_login_and_back(new_page, shots, scheduler, patient):
    page = new_page()
    page.goto(f"/patients/{patient.pk}/")
    assert "/accounts/login/" in page.url
    shots(page, "login-page")
    violations = axe_violations(page)
    assert violations == [], violations
    page.get_by_label("Username").fill("scheduler")
    page.get_by_label("Password").fill("correct-horse-battery-staple")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name=patient.full_name).wait_for()
    assert page.url.endswith(f"/patients/{patient.pk}/")
    shots(page, "back-on-patient")
