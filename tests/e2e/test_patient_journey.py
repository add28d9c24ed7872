"""Journey 4: a patient opens the confirmation link from their reminder on a phone,
confirms attendance and the driver; the scheduler's session page shows it."""

import datetime as dt
import re

import pytest
import time_machine
from django.utils import timezone

from clinic.models import Chair, OutboxMessage
from scheduling import reminders, reminders_plan
from scheduling.models import Reminder, Session
from tests import factories
from tests.e2e.conftest import DESKTOP, PHONE, axe_violations, login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def reminded_session(site):
    """A session in 30 hours; its 24-hour SMS reminder has been sent to the patient."""
    patient = factories.make_patient(site=site, first_name="Casey", last_name="Brook", preferred_channel="sms")
    start = (timezone.now() + dt.timedelta(hours=30)).replace(second=0, microsecond=0)
    session = Session.objects.create(
        patient=patient,
        chair=Chair.objects.get(site=site, name="Chair 3"),
        start=start,
        planned_end=start + dt.timedelta(minutes=150),
        planned_dose_mg=56,
    )
    reminders_plan.reminders_sync(session=session)
    due = Reminder.objects.get(session=session, kind="24h")
    with time_machine.travel(due.due_at + dt.timedelta(seconds=30), tick=False):
        for reminder_id in reminders.reminders_claim_due():
            reminders.reminder_deliver(reminder_id=reminder_id)
    return session


def test_patient_confirms_ride_from_the_reminder_link(new_page, shots, scheduler, reminded_session):
    message = OutboxMessage.objects.get(channel="sms", to="+12125550142")
    assert len(message.body) <= 160
    link = re.search(r"https?://\S+(/c/[^/\s]+/)", message.body).group(1)

    phone = new_page(PHONE)
    phone.goto(link)
    phone.get_by_role("heading", name="Your appointment").wait_for()
    body = phone.locator("body").inner_text()
    assert "Casey" not in body and "esketamine" not in body.lower()  # clinic, day and time only
    shots(phone, "link-opened")
    violations = axe_violations(phone)
    assert violations == [], violations
    phone.get_by_label("Who is driving you home?").fill("Jamie Brook")
    phone.get_by_label("Their phone number").fill("(212) 555-0166")
    phone.get_by_role("button", name="Yes, I will be there").click()
    phone.wait_for_load_state()
    shots(phone, "confirmed")
    assert "/done/" in phone.url

    desk = new_page(DESKTOP)
    login(desk, "scheduler", next_url=f"/sessions/{reminded_session.pk}/")
    desk.locator("#transport-status").filter(has_text="Confirmed by patient").wait_for()
    desk.get_by_text("Jamie Brook").first.wait_for()
    shots(desk, "scheduler-sees-confirmation")
