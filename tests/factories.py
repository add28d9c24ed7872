"""Small builders for test data. Keyword arguments override the defaults."""

import datetime as dt
import itertools

from django.contrib.auth.models import Group, User

from clinic.models import Chair, EscortContact, OpeningHours, Patient, Site

PASSWORD = "correct-horse-battery-staple"
_seq = itertools.count(1)


def make_user(username: str, role: str | None = None, **kwargs) -> User:
    user = User.objects.create_user(username=username, password=PASSWORD, first_name=username.title(), **kwargs)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def make_site(name: str | None = None, time_zone: str = "America/New_York", chairs: int = 6, **kwargs) -> Site:
    site = Site.objects.create(name=name or f"Site {next(_seq)}", time_zone=time_zone, **kwargs)
    for weekday in range(6):
        OpeningHours.objects.create(site=site, weekday=weekday, opens=dt.time(8), closes=dt.time(18))
    for n in range(1, chairs + 1):
        Chair.objects.create(site=site, name=f"Chair {n}")
    return site


def make_patient(site: Site | None = None, **kwargs) -> Patient:
    n = next(_seq)
    defaults = {
        "mrn": f"MRN{900000 + n}",
        "first_name": "Pat",
        "last_name": f"Example{n}",
        "date_of_birth": dt.date(1980, 5, 17),
        "sex": "F",
        "phone": "+12125550142",
        "email": f"pat{n}@example.com",
        "preferred_channel": "sms",
        "site": site,
        "rems_enrollment_id": f"RMS{n:06d}",
        "rems_enrollment_date": dt.date(2026, 1, 10),
    }
    defaults.update(kwargs)
    return Patient.objects.create(**defaults)


def make_escort(patient: Patient, **kwargs) -> EscortContact:
    defaults = {"name": "Jordan Example", "phone": "+12125550199", "relationship": "Partner"}
    defaults.update(kwargs)
    return EscortContact.objects.create(patient=patient, **defaults)


def make_course(patient, user, *, start_date: dt.date, slug: str = "esketamine-trd", site=None, **kwargs):
    """A course of the protocol ``slug`` (Mondays and Thursdays at 09:00 unless given)."""
    from scheduling.models import Course, Protocol

    defaults = {"weekdays": [0, 3], "start_time": dt.time(9)}
    defaults.update(kwargs)
    return Course.objects.create(
        patient=patient,
        protocol=Protocol.objects.get(slug=slug),
        site=site or patient.site,
        start_date=start_date,
        created_by=user,
        **defaults,
    )


def book(course, chair, start, **kwargs):
    """A session booked through the booking service, with the length and dose of the
    protocol's first phase (or ``phase=``): every rule of a real booking applies."""
    from scheduling import services

    return services.session_book(course=course, chair=chair, start=start, **kwargs)


def make_session(patient, site, start, *, sync: bool = True, chair=None, **kwargs):
    """A session written straight to the table (no booking rule), two and a half hours long,
    with its reminder rows planned unless ``sync=False``."""
    from scheduling.models import Session
    from scheduling.reminders_plan import reminders_sync

    session = Session.objects.create(
        patient=patient,
        chair=chair or site.chairs.first(),
        start=start,
        planned_end=start + dt.timedelta(hours=2, minutes=30),
        planned_dose_mg=56,
        **kwargs,
    )
    if sync:
        reminders_sync(session=session)
    return session


def make_trd_history(patient: Patient, user: User | None = None) -> None:
    """Two adequate failed antidepressant trials and a current antidepressant: what a course of
    the treatment-resistant depression protocol needs before it starts."""
    from monitoring.models import AntidepressantTrial

    user = user or User.objects.filter(is_active=True).order_by("pk").first() or make_user("trd-history")
    for drug, weeks, outcome in (
        ("Sertraline", 8, "no_response"),
        ("Venlafaxine", 8, "partial"),
        ("Escitalopram", 4, "current"),
    ):
        AntidepressantTrial.objects.create(
            patient=patient, drug=drug, dose="full", adequate_dose=True, weeks=weeks, outcome=outcome, recorded_by=user
        )
