"""Journey: a patient opens the link from their reminder on a phone, answers the questions
before their visit (PHQ-9 with item 9 above 0, GAD-7); the nurse sees the safety answer at the
top of the session day and dosing waits for a prescriber."""

import datetime as dt

import pytest
from django.utils import timezone

from clinic.models import Chair, StaffAlert
from monitoring.models import OutcomeScore
from scheduling.links import confirm_token
from scheduling.models import Session
from tests import factories
from tests.e2e.conftest import DESKTOP, PHONE, axe_violations, login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def upcoming_session(site):
    patient = factories.make_patient(site=site, first_name="Robin", last_name="Vale")
    start = (timezone.now() + dt.timedelta(hours=20)).replace(second=0, microsecond=0)
    return Session.objects.create(
        patient=patient,
        chair=Chair.objects.get(site=site, name="Chair 2"),
        start=start,
        planned_end=start + dt.timedelta(minutes=150),
        planned_dose_mg=56,
    )


def test_patient_answers_the_questions_on_a_phone(new_page, shots, nurse, upcoming_session):
    phone = new_page(PHONE)
    phone.goto(f"/c/{confirm_token(upcoming_session.pk)}/")
    phone.get_by_role("link", name="Answer a few questions before your visit (2 minutes)").click()
    phone.get_by_role("heading", name="Before your visit").wait_for()
    assert "Robin" not in phone.locator("body").inner_text()
    violations = axe_violations(phone)
    assert violations == [], violations
    shots(phone, "questions")
    # Submitting with nothing ticked: each question says what is missing, nothing is saved.
    phone.get_by_role("button", name="Send my answers").click()
    phone.get_by_text("Choose an answer.").first.wait_for()
    assert not OutcomeScore.objects.exists()
    for number in range(1, 10):
        answer = "Several days" if number == 9 else "More than half the days"
        phone.locator(f"fieldset:has(input[name='phq9-item_{number}'])").get_by_label(answer, exact=True).check()
    phone.get_by_label("Somewhat difficult").check()
    for number in range(1, 8):
        phone.locator(f"fieldset:has(input[name='gad7-item_{number}'])").get_by_label("Not at all", exact=True).check()
    phone.get_by_role("button", name="Send my answers").click()
    phone.get_by_role("heading", name="Thank you").wait_for()
    phone.locator("#safety-message").wait_for()
    shots(phone, "thank-you")
    phq9 = OutcomeScore.objects.get(session=upcoming_session, instrument="phq9")
    assert (phq9.total, phq9.safety_positive) == (17, True)
    assert StaffAlert.objects.filter(session_id=upcoming_session.pk, severity="critical").exists()

    desk = new_page(DESKTOP)
    login(desk, "nurse", next_url=f"/sessions/{upcoming_session.pk}/day/")
    desk.locator("#safety-item").filter(has_text="Dosing waits").wait_for()
    shots(desk, "nurse-sees-safety-answer")
