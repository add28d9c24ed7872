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
