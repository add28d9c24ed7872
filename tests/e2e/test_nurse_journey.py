"""Journey 2: a nurse on a 10-inch tablet runs the session day: check-in, a pre-dose blood
pressure that blocks dosing until a prescriber (on another device) overrides it, the dose,
a flagged 40-minute reading, a refused early discharge, and a discharge after 2 hours."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from clinic.models import Chair
from monitoring import services
from monitoring.models import CheckIn, ReadingKind
from scheduling.models import Session, SessionStatus, TransportArrangement
from tests import factories
from tests.e2e.conftest import TABLET, axe_violations, login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NORMAL = {"systolic": 128, "diastolic": 80, "heart_rate": 76, "spo2": 98, "respiratory_rate": 14, "moaas": 5}


def midday_site():
    """A site whose local time is early afternoon now, so 'today' holds both sessions
    whatever time the suite runs."""
    offset = (13 - timezone.now().hour + 12) % 24 - 12  # UTC offset in hours, -12..+11
    zone = "Etc/GMT" + (f"{-offset:+d}" if offset else "")  # Etc/GMT-3 is UTC+3
    return factories.make_site("Lakeside", time_zone=zone)


def session_with_ride(site, patient, chair_name, start, administrator):
    """A session of a new course with a ride confirmed by staff, written straight to the tables."""
    course = factories.make_course(
        patient, administrator, start_date=start.date(), site=site, weekdays=[start.weekday()]
    )
    session = factories.make_session(
        patient,
        site,
        start,
        sync=False,
        course=course,
        chair=Chair.objects.get(site=site, name=chair_name),
    )
    TransportArrangement.objects.create(
        session=session, name="Robin Lane", phone="+12125550188", relationship="Sister", status="confirmed_staff"
    )
    return session


@pytest.fixture
def day(nurse, prescriber, administrator):
    site = midday_site()
    now = timezone.now()
    arriving = session_with_ride(
        site,
        factories.make_patient(site=site, first_name="Avery", last_name="Stone"),
        "Chair 1",
        now + dt.timedelta(minutes=5),
        administrator,
    )
    dosed_start = now - dt.timedelta(minutes=135)
    dosed = session_with_ride(
        site,
        factories.make_patient(site=site, first_name="Blake", last_name="Rowe"),
        "Chair 2",
        dosed_start,
        administrator,
    )
    # The second patient was checked in, dosed and checked at 40 minutes over two hours ago.
    with time_machine.travel(dosed_start, tick=False):
        services.session_check_in(
            session=dosed,
            user=nurse,
            arrived_at=dosed_start,
            checklist=dict.fromkeys(CheckIn.CHECKLIST, True),
        )
        services.vitals_record(session=dosed, user=nurse, kind=ReadingKind.PRE_DOSE, values=NORMAL)
    first_device = now - dt.timedelta(minutes=125)
    with time_machine.travel(first_device, tick=False):
        services.dose_record(
            session=dosed, user=nurse, dose_mg=Decimal("56"), started_at=first_device, lot_number="LOT-A1"
        )
    with time_machine.travel(first_device + dt.timedelta(minutes=5), tick=False):
        services.dose_device_record(session=dosed, user=nurse, administered_at=first_device + dt.timedelta(minutes=5))
    with time_machine.travel(first_device + dt.timedelta(minutes=41), tick=False):
        services.vitals_record(
            session=dosed, user=nurse, kind=ReadingKind.CHECKPOINT, checkpoint_minute=40, values=NORMAL
        )
    return {"arriving": arriving, "dosed": dosed}


def fill_vitals(page, reading_for, systolic, diastolic, spo2, heart_rate=78, respiratory_rate=14, moaas=5):
    page.get_by_label("Reading for").select_option(label=reading_for)
    page.get_by_label("Systolic (mmHg)").fill(str(systolic))
    page.get_by_label("Diastolic (mmHg)").fill(str(diastolic))
    page.get_by_label("Heart rate (/min)").fill(str(heart_rate))
    page.get_by_label("SpO2 (%)").fill(str(spo2))
    page.get_by_label("Resp. rate (/min)").fill(str(respiratory_rate))
    page.get_by_label("MOAA/S (0-5, 5 = alert)").fill(str(moaas))
    page.get_by_role("button", name="Save reading").click()


def test_nurse_runs_the_session_day(new_page, shots, day, nurse, prescriber):
    page = new_page(TABLET)
    login(page, "nurse")
    page.get_by_role("heading", name="Observation board").wait_for()
    shots(page, "board-start")
    violations = axe_violations(page)
    assert violations == [], violations

    # Check in the arriving patient.
    page.get_by_role("link", name="Avery Stone").click()
    for item in (
        "No food for the last 2 hours",
        "No liquids for the last 30 minutes",
        "No nasal steroid or decongestant in the last hour",
        "REMS enrolment on file",
        "Concomitant medicines reviewed",
        "Ride home confirmed",
    ):
        page.get_by_label(item).check()
    page.get_by_role("button", name="Check in").click()
    page.wait_for_load_state()
    assert Session.objects.get(pk=day["arriving"].pk).status == SessionStatus.CHECKED_IN
    shots(page, "checked-in")

    # Pre-dose BP 150/95 blocks dosing.
    fill_vitals(page, "Pre-dose", 150, 95, 98)
    page.get_by_text("Dosing blocked").first.wait_for()
    assert page.get_by_role("button", name="Record device 1 and start observation").count() == 0
    shots(page, "dosing-blocked")
    violations = axe_violations(page)
    assert violations == [], violations

    # A prescriber, on their own device, overrides with a reason.
    doctor = new_page(TABLET)
    login(doctor, "prescriber", next_url=f"/sessions/{day['arriving'].pk}/day/")
    doctor.get_by_label("Reason for the override").fill("Baseline BP usually 145/92; reviewed, safe to dose.")
    doctor.get_by_role("button", name="Override and allow dosing").click()
    doctor.locator("#dose").get_by_text("Baseline BP usually 145/92").wait_for()  # the step now open
    shots(doctor, "prescriber-override")

    # The nurse records the dose: the first device starts the observation.
    page.reload()
    page.get_by_label("Lot number").fill("LOT-7781")
    page.get_by_role("button", name="Record device 1 and start observation").click()
    page.get_by_text("rest left").wait_for()
    assert Session.objects.get(pk=day["arriving"].pk).status == SessionStatus.IN_OBSERVATION
    shots(page, "dosed-rest-countdown")

    # A 40-minute reading with SpO2 91 is saved, flagged, and raises an alert on the board.
    fill_vitals(page, "40-minute check", 132, 84, 91)
    page.get_by_text("Low SpO2").first.wait_for()
    shots(page, "spo2-flagged")
    page.goto("/board/")
    row = page.locator("tr", has_text="Avery Stone")
    row.get_by_text("Low SpO2").wait_for()
    assert page.locator("#alert-count").inner_text() != "0"
    page.get_by_text("Avery Stone", exact=False).nth(1).wait_for()  # the alert panel names the patient
    shots(page, "board-flag-and-alert")

    # Discharging before 120 minutes is refused and says what is missing.
    page.get_by_role("link", name="Avery Stone").first.click()
    page.locator("#discharge summary").click()  # a later step, folded: it says what it waits for
    page.get_by_label("Alert", exact=True).check()
    page.get_by_label("Oriented").check()
    page.get_by_label("Steady on their feet").check()
    page.get_by_label("Taken home by").fill("Robin Lane")
    page.get_by_role("button", name="Discharge", exact=True).click()
    missing = page.locator("#discharge-missing")
    missing.get_by_text("120 minutes of observation end at").wait_for()
    shots(page, "discharge-refused")
    assert Session.objects.get(pk=day["arriving"].pk).status == SessionStatus.IN_OBSERVATION

    # The patient dosed over two hours ago: before-discharge reading, then discharge.
    page.goto("/board/")
    page.get_by_role("link", name="Blake Rowe").click()
    fill_vitals(page, "Before-discharge check", 126, 78, 98)
    page.get_by_label("Alert", exact=True).check()
    page.get_by_label("Oriented").check()
    page.get_by_label("Steady on their feet").check()
    page.get_by_label("Taken home by").fill("Robin Lane")
    page.locator("#discharge").get_by_label("Relationship").fill("Sister")
    page.get_by_role("button", name="Discharge", exact=True).click()
    page.get_by_text("Taken home by Robin Lane").wait_for()
    shots(page, "discharged")
    assert Session.objects.get(pk=day["dosed"].pk).status == SessionStatus.DISCHARGED
