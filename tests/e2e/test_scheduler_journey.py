"""Journey 1: a scheduler registers a patient, books an esketamine course, records the ride
home, meets a chair conflict when moving a session, and cancels one. Desktop viewport."""

import datetime as dt
import re

import pytest
from django.utils import timezone

from clinic.models import Chair, Patient
from scheduling.models import Session, SessionStatus
from tests import factories
from tests.e2e.conftest import DESKTOP, axe_violations, login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def next_monday(weeks_ahead: int = 1) -> dt.date:
    today = timezone.localdate()
    return today + dt.timedelta(days=(7 - today.weekday()) % 7 + 7 * weeks_ahead)


@pytest.fixture
def taken_slot(site):
    """Another patient holds Chair 2 on the course's second Monday at 09:00."""
    other = factories.make_patient(site=site, first_name="Other", last_name="Booking")
    day = next_monday() + dt.timedelta(days=7)
    start = dt.datetime.combine(day, dt.time(9), tzinfo=site.tzinfo)
    return Session.objects.create(
        patient=other,
        chair=Chair.objects.get(site=site, name="Chair 2"),
        start=start,
        planned_end=start + dt.timedelta(minutes=150),
        planned_dose_mg=56,
    )


def test_scheduler_books_a_course_and_manages_its_sessions(new_page, shots, scheduler, site, taken_slot):
    page = new_page(DESKTOP)
    page.on("dialog", lambda dialog: dialog.accept())
    login(page, "scheduler")

    # Register a patient; a bad phone number is refused beside the field.
    page.get_by_role("link", name="Patients").click()
    page.get_by_role("link", name="Register a patient").click()
    page.get_by_label("MRN").fill("MRN246810")
    page.get_by_label("First name").fill("Dana")
    page.get_by_label("Last name").fill("Quinn")
    page.get_by_label("Date of birth").fill("1985-03-02")
    page.get_by_label("Sex").select_option(label="Female")
    page.get_by_label("Site").select_option(label="Riverside")
    page.get_by_label("Phone", exact=True).fill("12345")
    page.get_by_label("Email").fill("dana.quinn@example.com")
    page.get_by_label("REMS enrolment id").fill("RMS246810")
    page.get_by_label("REMS enrolment date").fill("2026-10-01")
    page.get_by_role("button", name="Save patient").click()
    phone_field = page.locator("#div_id_phone")
    phone_field.get_by_text("Enter a valid phone number").wait_for()
    shots(page, "bad-phone-beside-field")
    assert page.get_by_label("First name").input_value() == "Dana"  # nothing typed is lost
    page.get_by_label("Phone", exact=True).fill("(212) 555-0134")
    page.get_by_role("button", name="Save patient").click()
    page.get_by_text("Dana Quinn is registered.").wait_for()
    shots(page, "patient-registered")

    # The treatment-resistant depression protocol needs the antidepressant history on record
    # (two adequate failed trials and a current antidepressant), entered by the clinical team.
    factories.make_trd_history(Patient.objects.get(mrn="MRN246810"))

    # Start an esketamine course: Monday and Thursday at 09:00 on Chair 1.
    first_monday = next_monday()
    page.get_by_role("link", name="Start a treatment course").click()
    page.get_by_label("Protocol").select_option(label="Esketamine: treatment-resistant depression")
    page.get_by_label("Start date").fill(first_monday.isoformat())
    page.get_by_label("Monday").check()
    page.get_by_label("Thursday").check()
    page.get_by_label("Start time").fill("09:00")
    page.get_by_label("Preferred chair").select_option(label="Chair 1")
    page.get_by_role("button", name="Show proposed sessions").click()
    page.get_by_role("heading", name="Check the proposed sessions").wait_for()
    shots(page, "proposed-sessions")

    induction_rows = page.locator("table.proposal-table tbody tr").filter(has_text="Induction")
    assert induction_rows.count() == 8
    dates = sorted(
        dt.date.fromisoformat(induction_rows.nth(i).locator("input[type=date]").input_value()) for i in range(8)
    )
    assert dates[0] == first_monday
    assert (dates[-1] - dates[0]).days < 28  # within four weeks
    assert all((b - a).days >= 2 for a, b in zip(dates, dates[1:], strict=False))  # never consecutive days
    assert page.locator("tr.proposal-conflict").count() == 0

    page.get_by_role("button", name="Confirm and book all ticked sessions").click()
    page.get_by_text("Esketamine: treatment-resistant depression").first.wait_for()
    shots(page, "course-timeline")
    booked = Session.objects.filter(patient__mrn="MRN246810", status=SessionStatus.BOOKED)
    assert booked.filter(phase_name__startswith="Induction").count() == 8

    # The sessions are on the week view.
    page.goto(f"/schedule/week/?start={first_monday.isoformat()}")
    assert page.get_by_role("link", name=re.compile(r"Dana Quinn, Chair 1, Booked")).count() == 2
    shots(page, "week-view")
    violations = axe_violations(page)
    assert violations == [], violations

    # Record the driver for the first session.
    first = booked.order_by("start").first()
    page.goto(f"/sessions/{first.pk}/")
    page.get_by_label("Ride home").select_option(label="Escort / driver")
    page.get_by_label("Driver or ride service").fill("Chris Quinn")
    page.locator("#transport-form").get_by_label("Phone").fill("212 555 0177")
    page.get_by_label("Relationship").fill("Spouse")
    page.get_by_label("Confirmed with the patient or driver").check()
    page.get_by_role("button", name="Save ride home").click()
    page.locator("#transport-status").filter(has_text="Confirmed by staff").wait_for()
    shots(page, "driver-recorded")
    violations = axe_violations(page)
    assert violations == [], violations

    # Moving the course's second-Monday session onto the taken chair is refused with the reason.
    second_monday = booked.filter(start__date__gte=taken_slot.start.date()).order_by("start").first()
    page.goto(f"/sessions/{second_monday.pk}/")
    page.get_by_label("Chair").select_option(label="Chair 2")
    page.get_by_role("button", name="Move session").click()
    conflict = page.get_by_text("Chair 2 is taken")
    conflict.wait_for()
    shots(page, "move-conflict")
    second_monday.refresh_from_db()
    assert second_monday.chair.name == "Chair 1"

    # Cancel it with a reason.
    page.get_by_label("Reason").fill("Patient travelling that week")
    page.get_by_role("button", name="Cancel session").click()
    page.locator("#session-status").filter(has_text="Cancelled").wait_for()
    shots(page, "cancelled")
    second_monday.refresh_from_db()
    assert second_monday.status == SessionStatus.CANCELLED
    assert second_monday.cancel_reason == "Patient travelling that week"
