"""Demo schedule: active esketamine courses for eight demo patients, with sessions booked
around today (several today, so the nurse's board has content), some rides confirmed and
some not. Idempotent: a patient who already has a course is left alone."""

import datetime as dt

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.utils import timezone

from clinic.demo import demo_site
from clinic.models import Patient

from . import rules
from .forms import phase_specs
from .models import Course, Protocol, Session, SessionStatus, TransportArrangement
from .reminders_plan import reminders_sync
from .services import SiteCalendar, check_patient

# (MRN, protocol slug, weekdays, local start time, chair number, ride confirmed?)
COURSES = [
    ("MRN100002", "esketamine-trd", [0, 3], dt.time(8, 30), 1, True),
    ("MRN100003", "esketamine-trd", [1, 4], dt.time(9), 2, False),
    ("MRN100004", "esketamine-mdsi", [0, 3], dt.time(11, 30), 1, True),
    ("MRN100005", "esketamine-trd", [2, 5], dt.time(10), 3, False),
    ("MRN100006", "esketamine-trd", [0, 3], dt.time(13), 4, True),
    ("MRN100007", "esketamine-mdsi", [1, 4], dt.time(14), 5, True),
    ("MRN100009", "esketamine-trd", [2, 4], dt.time(12), 6, False),
    ("MRN100010", "esketamine-trd", [1, 3], dt.time(15), 2, True),
]


def _proposals(*, protocol, site, start_date, weekdays, start_time):
    calendar = SiteCalendar.load(site)
    phases = phase_specs(protocol)
    return rules.generate_schedule(
        phases=phases,
        start_date=start_date,
        weekdays=weekdays,
        start_time=start_time,
        opening_hours=calendar.opening_hours,
        closures=calendar.closures.keys(),
        tz=site.tzinfo,
    )


def _free(chair, start, end, patient) -> bool:
    live = Session.objects.exclude(status=SessionStatus.CANCELLED).filter(start__lt=end, planned_end__gt=start)
    return not live.filter(chair=chair).exists() and not live.filter(patient=patient).exists()


def _with_today(today: int, open_days: set[int]) -> list[int]:
    """Today's weekday and an open one 3 or 4 days from it (the planner uses only open days)."""
    partner = next(((today + d) % 7 for d in (3, -3, 4, -4) if (today + d) % 7 in open_days), (today + 3) % 7)
    return sorted({today, partner})


def seed(stdout) -> None:
    site = demo_site()
    scheduler = User.objects.filter(username="scheduler").first() or User.objects.filter(is_superuser=True).first()
    if scheduler is None:
        stdout.write("Scheduling demo data skipped: no demo scheduler user.")
        return
    today = site.local_today()
    now = timezone.now()
    chairs = {c.name: c for c in site.chairs.all()}
    open_days = set(SiteCalendar.load(site).opening_hours)
    booked = 0
    for index, (mrn, slug, weekdays, start_time, chair_no, ride_ok) in enumerate(COURSES):
        patient = Patient.objects.filter(mrn=mrn).first()
        protocol = Protocol.objects.filter(slug=slug).first()
        if patient is None or protocol is None or Course.objects.filter(patient=patient).exists():
            continue
        try:
            check_patient(patient=patient, protocol=protocol)
        except ValidationError as exc:  # an ineligible demo patient gets no course
            stdout.write(f"Skipped {patient.full_name}: {' '.join(exc.messages)}")
            continue
        if index < 5:  # today is one of these courses' days, so the board has sessions today
            weekdays = _with_today(today.weekday(), open_days)
        start_date = today - dt.timedelta(weeks=1 + index % 2)
        course = Course.objects.create(
            patient=patient,
            protocol=protocol,
            site=site,
            preferred_chair=chairs.get(f"Chair {chair_no}"),
            start_date=start_date,
            weekdays=weekdays,
            start_time=start_time,
            created_by=scheduler,
        )
        escort = patient.escorts.first()
        for p in _proposals(
            protocol=protocol, site=site, start_date=start_date, weekdays=course.weekdays, start_time=start_time
        ):
            if p.date > today + dt.timedelta(weeks=3):
                break
            if p.date < today:  # the demo shows what is planned from today on
                continue
            chair = next(
                (
                    c
                    for c in [chairs.get(f"Chair {chair_no}"), *chairs.values()]
                    if c and _free(c, p.start, p.end, patient)
                ),
                None,
            )
            if chair is None:
                continue
            session = Session.objects.create(
                course=course,
                patient=patient,
                chair=chair,
                start=p.start,
                planned_end=p.end,
                planned_dose_mg=p.dose_mg,
                phase_name=p.phase_name,
                sequence=p.sequence,
            )
            confirmed = ride_ok
            TransportArrangement.objects.create(
                session=session,
                name=escort.name if escort else "",
                phone=escort.phone if escort else "",
                relationship=escort.relationship if escort else "",
                status=TransportArrangement.Status.CONFIRMED_STAFF
                if confirmed
                else TransportArrangement.Status.UNCONFIRMED,
                confirmed_at=now if confirmed else None,
                confirmed_by=scheduler if confirmed else None,
            )
            reminders_sync(session=session)
            booked += 1
    stdout.write(f"Scheduling demo data: {booked} sessions booked.")
