"""The nurse's tablet, upright (800x1280) and on its side (1024x768): the observation board
shows every chair's essentials without sideways scrolling and acknowledges an alert; the
session day fits too, its current step first, and after a refused action the error is in view."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from clinic.models import StaffAlert
from monitoring import services
from monitoring.models import CheckIn, ReadingKind
from tests import factories
from tests.e2e.conftest import login
from tests.e2e.test_nurse_journey import NORMAL, midday_site, session_with_ride

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

UPRIGHT = {"width": 800, "height": 1280}
SIDEWAYS = {"width": 1024, "height": 768}
CHECKLIST = dict.fromkeys(CheckIn.CHECKLIST, True)


def _dosed(session, nurse, *, minutes_ago: int, devices: int = 2):
    """Checked in, normal pre-dose vitals, the first device ``minutes_ago`` (and the others)."""
    now = timezone.now()
    first = now - dt.timedelta(minutes=minutes_ago)
    with time_machine.travel(first - dt.timedelta(minutes=10), tick=False):
        services.session_check_in(
            session=session, user=nurse, arrived_at=first - dt.timedelta(minutes=10), checklist=CHECKLIST
        )
        services.vitals_record(session=session, user=nurse, kind=ReadingKind.PRE_DOSE, values=NORMAL)
    with time_machine.travel(first, tick=False):
        services.dose_record(session=session, user=nurse, dose_mg=Decimal("56"), started_at=first, lot_number="LOT-T1")
    for n in range(2, devices + 1):
        at = first + dt.timedelta(minutes=5 * (n - 1))
        with time_machine.travel(at, tick=False):
            services.dose_device_record(session=session, user=nurse, administered_at=at)
    return session


@pytest.fixture
def six_chairs(nurse, administrator):
    """Six chairs in the states of a busy morning."""
    site = midday_site()
    now = timezone.now()

    def new(chair: int, first: str, last: str, start):
        patient = factories.make_patient(site=site, first_name=first, last_name=last)
        return session_with_ride(site, patient, f"Chair {chair}", start, administrator)

    booked = new(1, "Avery", "Stone", now + dt.timedelta(minutes=20))
    blocked = new(2, "Blake", "Rowe", now - dt.timedelta(minutes=10))
    with time_machine.travel(now - dt.timedelta(minutes=5), tick=False):
        services.session_check_in(
            session=blocked, user=nurse, arrived_at=now - dt.timedelta(minutes=5), checklist=CHECKLIST
        )
        services.vitals_record(
            session=blocked, user=nurse, kind=ReadingKind.PRE_DOSE, values={**NORMAL, "systolic": 168, "diastolic": 101}
        )
    resting = _dosed(
        new(3, "Casey", "Moreno-Villanueva", now - dt.timedelta(minutes=15)), nurse, minutes_ago=2, devices=1
    )
    overdue = _dosed(new(4, "Dana", "Okafor", now - dt.timedelta(minutes=70)), nurse, minutes_ago=55)
    flagged = _dosed(new(5, "Emery", "Lindqvist", now - dt.timedelta(minutes=60)), nurse, minutes_ago=45)
    with time_machine.travel(now - dt.timedelta(minutes=4), tick=False):
        services.vitals_record(
            session=flagged,
            user=nurse,
            kind=ReadingKind.CHECKPOINT,
            checkpoint_minute=40,
            values={**NORMAL, "spo2": 90},
        )
    ready = _dosed(new(6, "Finley", "Adeyemi", now - dt.timedelta(minutes=140)), nurse, minutes_ago=125)
    with time_machine.travel(now - dt.timedelta(minutes=80), tick=False):
        services.vitals_record(
            session=ready, user=nurse, kind=ReadingKind.CHECKPOINT, checkpoint_minute=40, values=NORMAL
        )
    with time_machine.travel(now - dt.timedelta(minutes=2), tick=False):
        services.vitals_record(session=ready, user=nurse, kind=ReadingKind.DISCHARGE, values=NORMAL)
    return {
        "site": site,
        "booked": booked,
        "blocked": blocked,
        "resting": resting,
        "overdue": overdue,
        "flagged": flagged,
        "ready": ready,
    }


def no_sideways_scroll(page) -> tuple[int, int]:
    return page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")


def inside_width(page, locator) -> bool:
    """The element is visible and wholly inside the window's width."""
    box = locator.bounding_box()
    width = page.evaluate("() => window.innerWidth")
    return locator.is_visible() and box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width


@pytest.mark.parametrize("viewport", [UPRIGHT, SIDEWAYS], ids=["800x1280", "1024x768"])
def test_the_board_fits_a_tablet_and_shows_each_chairs_essentials(new_page, shots, six_chairs, nurse, viewport):
    site = six_chairs["site"]
    page = new_page(viewport)
    login(page, "nurse", next_url=f"/board/?site={site.pk}")
    page.get_by_role("heading", name="Observation board").wait_for()
    shots(page, f"board-{viewport['width']}")

    scroll_width, inner_width = no_sideways_scroll(page)
    assert scroll_width <= inner_width, (scroll_width, inner_width)

    def card(name):
        return page.locator("tr", has_text=name)

    for name in ("Avery Stone", "Blake Rowe", "Casey Moreno-Villanueva", "Dana Okafor", "Emery Lindqvist"):
        assert inside_width(page, card(name).get_by_role("link", name=name)), name
    assert inside_width(page, card("Blake Rowe").get_by_text("Dosing blocked"))
    # Minutes since the dose, the next check (overdue stands out), the latest vitals with flags.
    assert inside_width(page, card("Dana Okafor").get_by_text("55 min"))
    assert inside_width(page, card("Dana Okafor").get_by_text("Overdue"))
    assert "board-overdue" in card("Dana Okafor").get_attribute("class")
    assert inside_width(page, card("Emery Lindqvist").get_by_text("Low SpO2"))
    assert inside_width(page, card("Emery Lindqvist").get_by_text("SpO2 90%", exact=False))
    # What discharge still waits for, or that the patient is ready for the discharge checks.
    assert inside_width(page, card("Dana Okafor").get_by_text("120 minutes of observation end at", exact=False))
    assert inside_width(page, card("Finley Adeyemi").get_by_text("Ready for discharge checks"))
    # The second device's rest counts down (mm:ss) from the server's instant.
    countdown = card("Casey Moreno-Villanueva").locator("[data-countdown-until]")
    assert inside_width(page, countdown)
    first = countdown.inner_text()
    page.wait_for_timeout(1500)
    assert countdown.inner_text() != first and ":" in countdown.inner_text()


def test_an_alert_is_acknowledged_from_the_board(new_page, shots, six_chairs, nurse):
    site = six_chairs["site"]
    alert = StaffAlert.objects.get(kind="vitals_out_of_range", session_id=six_chairs["flagged"].pk)
    page = new_page(UPRIGHT)
    login(page, "nurse", next_url=f"/board/?site={site.pk}")
    panel = page.locator("#board-alerts")
    item = panel.locator("li", has_text="Emery Lindqvist")
    assert inside_width(page, item.get_by_role("button", name="Acknowledge", exact=False))
    item.get_by_role("button", name="Acknowledge", exact=False).click()
    page.get_by_text("Alert acknowledged.").wait_for()
    assert page.url.endswith(f"/board/?site={site.pk}")
    shots(page, "board-acknowledged")
    alert.refresh_from_db()
    assert alert.acknowledged_by == nurse and alert.acknowledged_at is not None
    assert panel.locator("li", has_text="Emery Lindqvist").count() == 0


# --- The session day ------------------------------------------------------------------


def _steps_top_to_bottom(page) -> list[str]:
    return page.evaluate(
        """() => [...document.querySelectorAll('.day-step')]
            .sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top).map(s => s.id)"""
    )


def _in_view(page, locator) -> bool:
    box = locator.bounding_box()
    size = page.evaluate("() => [window.innerWidth, window.innerHeight]")
    assert box is not None, "not laid out"
    return (
        0 <= box["y"]
        and box["y"] + min(box["height"], 40) <= size[1]
        and 0 <= box["x"]
        and box["x"] + box["width"] <= size[0]
    )


@pytest.mark.parametrize("viewport", [UPRIGHT, SIDEWAYS], ids=["800x1280", "1024x768"])
def test_the_session_day_opens_on_its_current_step_and_fits(new_page, shots, six_chairs, nurse, viewport):
    page = new_page(viewport)
    login(page, "nurse", next_url=f"/sessions/{six_chairs['booked'].pk}/day/")
    # Booked: the check-in is first and open; the later steps say what they wait for.
    assert _steps_top_to_bottom(page)[0] == "check-in"
    assert page.locator("#check-in").get_attribute("open") is not None
    assert page.locator("#pre-dose summary").get_by_text("Waits for the check-in").is_visible()
    assert page.locator("#dose").get_attribute("open") is None
    scroll_width, inner_width = no_sideways_scroll(page)
    assert scroll_width <= inner_width, (scroll_width, inner_width)
    # Touch targets: every check-box row, field and button of the open step is 44 px tall or more.
    step = page.locator("#check-in")
    for target in step.locator(".form-check").all() + step.locator("button, input.form-control").all():
        if target.is_visible():
            assert target.bounding_box()["height"] >= 44, target.evaluate("e => e.outerHTML.slice(0, 120)")
    shots(page, f"check-in-{viewport['width']}")

    # In observation with a device to give: the dose first, with its countdown; the observation open.
    page.goto(f"/sessions/{six_chairs['resting'].pk}/day/")
    assert _steps_top_to_bottom(page)[:2] == ["dose", "observation"]
    assert page.locator("#check-in").get_attribute("open") is None
    assert page.locator("#check-in summary").get_by_text("checklist complete").is_visible()
    countdown = page.locator(".day-countdowns [data-countdown-until]").first
    first = countdown.inner_text()
    page.wait_for_timeout(1500)
    assert countdown.inner_text() != first
    scroll_width, inner_width = no_sideways_scroll(page)
    assert scroll_width <= inner_width, (scroll_width, inner_width)
    # The vitals inputs sit on one line: their tops align.
    tops = {
        round(page.get_by_label(label, exact=False).first.bounding_box()["y"])
        for label in ("Systolic", "Diastolic", "Heart rate")
    }
    assert len(tops) == 1, tops
    shots(page, f"observation-{viewport['width']}")


@pytest.mark.parametrize("viewport", [UPRIGHT, SIDEWAYS], ids=["800x1280", "1024x768"])
def test_a_refused_discharge_lands_on_its_reasons(new_page, shots, six_chairs, nurse, viewport):
    page = new_page(viewport)
    login(page, "nurse", next_url=f"/sessions/{six_chairs['overdue'].pk}/day/")
    discharge = page.locator("#discharge")
    discharge.locator("summary").click()
    discharge.get_by_label("Alert", exact=True).check()
    discharge.get_by_label("Oriented").check()
    discharge.get_by_label("Steady on their feet").check()
    discharge.get_by_label("Taken home by").fill("Robin Lane")
    discharge.get_by_role("button", name="Discharge", exact=True).click()
    page.wait_for_load_state()
    reasons = page.locator("#discharge-missing")
    reasons.wait_for()

    assert discharge.get_attribute("open") is not None
    assert _in_view(page, reasons), (
        reasons.bounding_box(),
        page.evaluate("() => [window.innerWidth, window.innerHeight, window.scrollY]"),
    )
    assert "120 minutes of observation end at" in reasons.inner_text()
    shots(page, f"discharge-refused-{viewport['width']}")


def test_a_refused_reading_lands_on_the_field(new_page, six_chairs, nurse):
    page = new_page(SIDEWAYS)
    login(page, "nurse", next_url=f"/sessions/{six_chairs['flagged'].pk}/day/")
    page.get_by_label("Systolic", exact=False).first.fill("420")
    page.get_by_role("button", name="Save reading").click()
    page.wait_for_load_state()
    page.locator(".is-invalid").first.wait_for()
    assert _in_view(page, page.locator("#observation .invalid-feedback").first)


def test_the_idle_sign_out_takes_the_board_to_sign_in_and_back(new_page, shots, six_chairs, nurse, settings):
    site = six_chairs["site"]
    page = new_page(SIDEWAYS)
    login(page, "nurse", next_url=f"/board/?site={site.pk}")
    page.get_by_role("heading", name="Observation board").wait_for()
    settings.SESSION_IDLE_TIMEOUT = 2  # the next refresh (every 5 s) finds the session idle
    page.wait_for_url("**/accounts/login/**", timeout=15_000)
    assert page.locator("#board").count() == 0  # the whole window, not a sign-in page inside the board
    shots(page, "signed-out")
    settings.SESSION_IDLE_TIMEOUT = 15 * 60
    page.get_by_label("Username").fill("nurse")
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Observation board").wait_for()
    assert page.url.endswith(f"/board/?site={site.pk}")


def test_a_page_with_a_form_warns_a_minute_before_the_idle_sign_out(new_page, six_chairs, nurse, settings):
    settings.SESSION_IDLE_TIMEOUT = 62  # the warning comes after two seconds
    page = new_page(UPRIGHT)
    login(page, "nurse", next_url=f"/sessions/{six_chairs['booked'].pk}/day/")
    warning = page.get_by_role("alertdialog")
    warning.wait_for(timeout=6_000)
    assert "You will be signed out for inactivity in" in warning.inner_text()
    assert inside_width(page, warning.get_by_role("button", name="Stay signed in"))
    warning.get_by_role("button", name="Stay signed in").click()
    warning.wait_for(state="detached")
    page.reload()  # still signed in
    assert page.get_by_role("heading", name="Avery Stone").is_visible()


def test_the_week_grid_names_patients_where_a_column_has_room(new_page, nurse, administrator):
    site = factories.make_site("Hillside", chairs=1)
    now = timezone.now()
    patient = factories.make_patient(site=site, first_name="Morgan", last_name="Ellery")
    start = now.astimezone(site.tzinfo).replace(hour=10, minute=0, second=0, microsecond=0)
    session_with_ride(site, patient, "Chair 1", start, administrator)
    page = new_page({"width": 1440, "height": 900})
    login(page, "nurse", next_url=f"/schedule/week/?site={site.pk}")
    block = page.locator("a.schedule-block").first
    assert (
        block.locator(".schedule-name").is_visible() and block.locator(".schedule-name").inner_text() == "Morgan Ellery"
    )
    assert not block.locator(".schedule-initials").is_visible()
    assert "Morgan Ellery" in block.get_attribute("title")  # the whole session on hover
