"""The gallery: each role's main pages on a realistic clinic day, at desktop, tablet and phone
sizes. Every page answers with its heading; the pages meant for a tablet or a phone (the
observation board, the session day, the patient's confirmation link) fit without sideways
scrolling. The screenshots (the viewport only) land in artifacts/e2e/gallery/ as
<role>-<page>-<size>.png; `make gallery` copies them into tests/e2e/gallery/ for the README."""

import datetime as dt
import re

import pytest
import time_machine
from django.utils import timezone

from clinic.models import Chair
from monitoring import services
from monitoring.models import ReadingKind
from monitoring.models_outcomes import OutcomeScore
from scheduling.links import confirm_token
from scheduling.models import ProtocolPhase, SessionStatus, TransportArrangement
from tests import factories
from tests.e2e.conftest import ARTIFACTS, DESKTOP, PHONE, login
from tests.e2e.test_nurse_journey import NORMAL, midday_site, session_with_ride
from tests.e2e.test_tablet import CHECKLIST, _dosed

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

GALLERY = ARTIFACTS / "gallery"
SIZES = {"desktop": DESKTOP, "tablet": {"width": 1024, "height": 768}, "phone": PHONE}
# The pages meant to be used on a tablet or a phone: no sideways scrolling there.
FITS = {"board", "session-day", "confirm", "day", "rides", "reviews", "course", "compliance"}
# The elements sticking out on the right of a page too wide (a hint for the failure message).
STICKING_OUT = """() => {
    const out = e => e.getBoundingClientRect().right > window.innerWidth + 0.5;
    const inBox = e => { for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
        if (getComputedStyle(a).overflowX !== 'visible') return true; } return false; };
    return [...document.querySelectorAll('body *')]
        .filter(e => out(e) && !inBox(e) && !(e.parentElement && out(e.parentElement) && !inBox(e.parentElement)))
        .slice(0, 5)
        .map(e => `${e.tagName.toLowerCase()}.${e.getAttribute('class') || ''}`
            + ` ${Math.round(e.getBoundingClientRect().right)}`);
}"""


NAMES = [
    ("Harper", "Quinn"),
    ("Jules", "Navarro"),
    ("Kai", "Bennett"),
    ("Logan", "Price"),
    ("Milan", "Ortiz"),
    ("Noor", "Haddad"),
    ("Oakley", "Fischer"),
    ("Parker", "Sato"),
    ("Reese", "Almeida"),
    ("Sasha", "Ivanova"),
    ("Taylor", "Brooks"),
    ("Val", "Mensah"),
]
PHQ9_OVER_WEEKS = [21, 19, 16, 14, 11, 13, 9]


def _phq9(total: int) -> list[int]:
    """Nine answers adding up to ``total``, the safety item (the last) at 0."""
    answers = [0] * 9
    for i in range(total):
        answers[i % 8] += 1
    return answers


@pytest.fixture
def clinic_day(nurse, administrator, scheduler, prescriber):
    """Six chairs in the states of a busy early afternoon, a booked week around them, rides
    still to confirm, and a course in its eighth week with a PHQ-9 trend, waiting for review."""
    site = midday_site()
    now = timezone.now()
    local_now = now.astimezone(site.tzinfo)
    chairs = {c.name: c for c in Chair.objects.filter(site=site)}

    def new(chair: int, first: str, last: str, start):
        patient = factories.make_patient(site=site, first_name=first, last_name=last)
        return session_with_ride(site, patient, f"Chair {chair}", start, administrator)

    # Today: arriving, blocked by a high blood pressure, resting between devices, overdue for
    # a check, a flagged SpO2, ready for discharge.
    arriving = new(1, "Avery", "Stone", now + dt.timedelta(minutes=20))
    blocked = new(2, "Blake", "Rowe", now - dt.timedelta(minutes=10))
    with time_machine.travel(now - dt.timedelta(minutes=5), tick=False):
        services.session_check_in(
            session=blocked, user=nurse, arrived_at=now - dt.timedelta(minutes=5), checklist=CHECKLIST
        )
        services.vitals_record(
            session=blocked, user=nurse, kind=ReadingKind.PRE_DOSE, values={**NORMAL, "systolic": 168, "diastolic": 101}
        )
    _dosed(new(3, "Casey", "Moreno", now - dt.timedelta(minutes=15)), nurse, minutes_ago=2, devices=1)
    _dosed(new(4, "Dana", "Okafor", now - dt.timedelta(minutes=70)), nurse, minutes_ago=55)
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

    # The rest of the week (Monday to Saturday): two or three sessions a day; those later
    # than today have no confirmed ride yet.
    monday = local_now.date() - dt.timedelta(days=local_now.weekday())
    patients = [factories.make_patient(site=site, first_name=first, last_name=last) for first, last in NAMES]
    courses = {
        p.pk: factories.make_course(p, administrator, start_date=monday, site=site, weekdays=[0, 3]) for p in patients
    }
    n = 0
    for offset in range(6):
        day = monday + dt.timedelta(days=offset)
        if day == local_now.date():
            continue
        for hour, chair in ((9, 1), (9, 3), (11, 2), (14, 4))[: 2 + offset % 3]:
            patient = patients[n % len(patients)]
            n += 1
            start = dt.datetime.combine(day, dt.time(hour, 30 if chair % 2 else 0), tzinfo=site.tzinfo)
            course = courses[patient.pk]
            session = factories.make_session(
                patient,
                site,
                start,
                sync=False,
                course=course,
                chair=chairs[f"Chair {chair}"],
                status=SessionStatus.DISCHARGED if day < local_now.date() else SessionStatus.BOOKED,
            )
            if day < local_now.date() or n % 3 == 0:
                TransportArrangement.objects.create(session=session, name="Sam Rivera", status="confirmed_staff")
    # Tomorrow's patients on chairs 5 and 6 (free all week), for the rides list and the
    # patient's confirmation link whatever the day of the week.
    tomorrow_date = local_now.date() + dt.timedelta(days=1)
    for first, last, chair, hour in (("Rowan", "Hale", 5, 9), ("Skyler", "Voss", 6, 9), ("Tatum", "Reid", 5, 12)):
        patient = factories.make_patient(site=site, first_name=first, last_name=last)
        course = factories.make_course(patient, administrator, start_date=tomorrow_date, site=site)
        start = dt.datetime.combine(tomorrow_date, dt.time(hour), tzinfo=site.tzinfo)
        tomorrow = factories.make_session(
            patient, site, start, sync=False, course=course, chair=chairs[f"Chair {chair}"]
        )
        if first == "Skyler":
            TransportArrangement.objects.create(session=tomorrow, name="Ride Co", kind="ride", status="unconfirmed")

    # A course in its eighth week: a weekly PHQ-9 falling, with a bump, waiting for review.
    followed = factories.make_patient(site=site, first_name="Morgan", last_name="Ellery")
    start_date = local_now.date() - dt.timedelta(weeks=len(PHQ9_OVER_WEEKS))
    course = factories.make_course(
        followed, administrator, start_date=start_date, site=site, weekdays=[start_date.weekday()]
    )
    phases = list(ProtocolPhase.objects.filter(protocol=course.protocol).order_by("order"))
    sequence = 0
    for week, total in enumerate(PHQ9_OVER_WEEKS):
        # Twice a week for the four weeks of induction, then weekly; a PHQ-9 before the
        # week's first session.
        phase = phases[0] if week < 4 else phases[min(1, len(phases) - 1)]
        for day_offset in (0, 3) if week < 4 else (0,):
            sequence += 1
            start = dt.datetime.combine(
                start_date + dt.timedelta(weeks=week, days=day_offset), dt.time(8), tzinfo=site.tzinfo
            )
            past = factories.make_session(
                followed,
                site,
                start,
                sync=False,
                course=course,
                chair=chairs["Chair 6"],
                status=SessionStatus.DISCHARGED,
                phase_name=phase.name,
                sequence=sequence,
            )
            if day_offset == 0:
                OutcomeScore.objects.create(
                    session=past,
                    patient=followed,
                    instrument="phq9",
                    source=OutcomeScore.Source.PATIENT,
                    answers=_phq9(total),
                    functional=1,
                    total=total,
                    recorded_at=start - dt.timedelta(hours=2),
                )
    # At the end of the second phase the course waits for the prescriber's decision.
    course.review_phase_order = phases[min(1, len(phases) - 1)].order
    course.save(update_fields=["review_phase_order"])
    return {"site": site, "arriving": arriving, "flagged": flagged, "course": course, "tomorrow": tomorrow}


def _pages(day) -> list[tuple[str, str, str, str | re.Pattern]]:
    """(role, page, address, heading) of each role's main pages; the heading is the page's
    title, or the section an address ending in #section opens on."""
    site = day["site"].pk
    return [
        ("scheduler", "week", f"/schedule/week/?site={site}", re.compile(r"^Week of")),
        ("scheduler", "day", f"/schedule/?site={site}", re.compile(r"Today")),
        ("scheduler", "rides", "/schedule/transport/", "Rides home to confirm"),
        ("nurse", "board", f"/board/?site={site}", re.compile(r"^Observation board")),
        ("nurse", "session-day", f"/sessions/{day['flagged'].pk}/day/", re.compile(r"Emery Lindqvist")),
        ("prescriber", "reviews", "/courses/reviews/", "Courses waiting for your review"),
        ("prescriber", "trend", f"/courses/{day['course'].pk}/#outcome-trend", "Outcome scores"),
        ("prescriber", "course", f"/courses/{day['course'].pk}/", re.compile(r"Esketamine")),
        ("administrator", "audit", "/audit/", "Audit trail"),
        ("administrator", "compliance", "/reports/", "Compliance reports"),
        ("patient", "confirm", f"/c/{confirm_token(day['tomorrow'].pk)}/", "Your appointment"),
    ]


def test_each_roles_main_pages_at_desktop_tablet_and_phone_sizes(browser, live_server, clinic_day):
    GALLERY.mkdir(parents=True, exist_ok=True)
    for old in GALLERY.glob("*.png"):
        old.unlink()
    pages = _pages(clinic_day)
    too_wide = []
    cookies = {}  # each role signs in once; its cookies serve the other sizes
    for size, viewport in SIZES.items():
        signed_in = {}
        try:
            for role, name, address, heading in pages:
                if role not in signed_in:
                    context = browser.new_context(
                        viewport=viewport,
                        base_url=live_server.url,
                        bypass_csp=True,
                        storage_state=cookies.get(role),
                        reduced_motion="reduce",  # no smooth scrolling or fading mid-picture
                    )
                    context.set_default_timeout(10_000)
                    signed_in[role] = context.new_page()
                    if role != "patient" and role not in cookies:
                        login(signed_in[role], role)
                        cookies[role] = context.storage_state()
                page = signed_in[role]
                response = page.goto(address)
                assert response.status == 200, (role, name, size, response.status)
                title = page.get_by_role("heading", level=2 if "#" in address else 1, name=heading)
                title.wait_for()
                if name == "trend":
                    chart = page.locator("#outcome-trend svg.outcome-chart").first.bounding_box()
                    assert chart is not None and 0 <= chart["y"] < viewport["height"], (size, chart)
                page.screenshot(path=str(GALLERY / f"{role}-{name}-{size}.png"))
                scroll_width, inner_width = page.evaluate(
                    "() => [document.documentElement.scrollWidth, window.innerWidth]"
                )
                if name in FITS and size != "desktop" and scroll_width > inner_width:
                    too_wide.append((role, name, size, scroll_width, inner_width, page.evaluate(STICKING_OUT)))
        finally:
            for page in signed_in.values():
                page.context.close()
    assert too_wide == [], "\n".join(map(str, too_wide))
    assert len(list(GALLERY.glob("*.png"))) == len(pages) * len(SIZES)
