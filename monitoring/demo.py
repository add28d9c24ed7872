"""Demo data for the session day: two of today's booked sessions are moved on, one into the
observation (dosed 50 minutes ago, with readings) and one checked in with pre-dose vitals.
Idempotent: once any of today's sessions has a check-in, nothing more is done."""

import datetime as dt
from decimal import Decimal

from django.contrib.auth.models import User
from django.utils import timezone

from clinic.models import Site
from scheduling.models import Drug, Session, SessionStatus

from . import rules, services
from .models import CheckIn

CHECKLIST = dict.fromkeys(CheckIn.CHECKLIST, True)
NORMAL = {"systolic": 126, "diastolic": 80, "heart_rate": 74, "spo2": 98, "respiratory_rate": 14, "moaas": 5}


def _todays_sessions(site: Site) -> list[Session]:
    tz = site.tzinfo
    start = dt.datetime.combine(site.local_today(), dt.time.min, tzinfo=tz)
    return list(
        Session.objects.filter(chair__site=site, start__gte=start, start__lt=start + dt.timedelta(days=1))
        .exclude(status=SessionStatus.CANCELLED)
        .select_related("patient", "chair__site", "course__protocol")
        .order_by("start")
    )


def _ride(session: Session) -> dict:
    escort = session.patient.escorts.first()
    if escort is None:
        return {"kind": "escort", "name": "Demo Driver", "phone": "+15550100199", "relationship": "Friend"}
    return {"kind": "escort", "name": escort.name, "phone": escort.phone, "relationship": escort.relationship}


def seed(stdout) -> None:
    nurse = User.objects.filter(username="nurse", is_active=True).first()
    site = Site.objects.filter(name="Riverside Clinic").first() or Site.objects.first()
    if nurse is None or site is None:
        stdout.write("Session-day demo data: skipped (no demo nurse or site).")
        return
    sessions = _todays_sessions(site)
    if CheckIn.objects.filter(session__in=sessions).exists():
        stdout.write("Session-day demo data: already present.")
        return
    candidates = [s for s in sessions if s.status == SessionStatus.BOOKED and s.patient.is_rems_enrolled][:2]
    if not candidates:
        stdout.write("Session-day demo data: no booked sessions today, nothing to do.")
        return
    now = timezone.now()
    for n, session in enumerate(candidates):
        arrived = now - dt.timedelta(minutes=65 if n == 0 else 10)
        services.session_check_in(
            session=session, user=nurse, arrived_at=arrived, checklist=CHECKLIST, transport=_ride(session)
        )
        services.vitals_record(
            session=session, user=nurse, kind="pre_dose", values=NORMAL, taken_at=arrived + dt.timedelta(minutes=5)
        )
        if n == 0:
            dosed = now - dt.timedelta(minutes=50)
            iv = services.session_drug(session) == Drug.IV_KETAMINE
            services.dose_record(
                session=session,
                user=nurse,
                dose_mg=session.planned_dose_mg,
                lot_number="DEMO-24A17",
                weight_kg=Decimal("74.0") if iv else None,
                mg_per_kg=Decimal("0.5") if iv else None,
                started_at=dosed,
            )
            devices = 1 if iv else rules.devices_for_dose(session.planned_dose_mg) or 1
            for i in range(1, devices):
                services.dose_device_record(
                    session=session, user=nurse, administered_at=dosed + dt.timedelta(minutes=5 * i)
                )
            services.vitals_record(
                session=session,
                user=nurse,
                kind="checkpoint",
                checkpoint_minute=40,
                values={**NORMAL, "systolic": 148, "diastolic": 92, "spo2": 93, "moaas": 4},
                taken_at=dosed + dt.timedelta(minutes=41),
                notes="Mild dissociation, resting comfortably.",
            )
    stdout.write(f"Session-day demo data: {len(candidates)} of today's sessions checked in, one in observation.")
