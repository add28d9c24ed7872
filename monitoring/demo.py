"""Demo data for the session day: two of today's booked sessions are moved on, one into the
observation (dosed 50 minutes ago, with readings) and one checked in with pre-dose vitals.
Idempotent: once any of today's sessions has a check-in, nothing more is done."""

import datetime as dt
from decimal import Decimal

from django.contrib.auth.models import User
from django.db.models import F
from django.utils import timezone

from clinic.models import Site
from scheduling.models import Drug, Session, SessionStatus, TransportArrangement

from . import rules, services
from .models import (
    CheckIn,
    DeviceAdministration,
    DoseRecord,
    Observation,
    ReadingKind,
    VitalsReading,
    current_thresholds,
)

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


def _reading(session, *, nurse, kind, taken_at, t, values=NORMAL, **extra) -> VitalsReading:
    flags = [f.as_dict() for f in rules.reading_flags(values, t)]
    return VitalsReading.objects.create(
        session=session,
        kind=kind,
        taken_at=taken_at,
        recorded_at=taken_at,
        recorded_by=nurse,
        flags=flags,
        **values,
        **extra,
    )


def _day_so_far(session: Session, *, nurse, arrived: dt.datetime, dosed: dt.datetime | None, t) -> None:
    """The rows a nurse would have entered at those times. Written directly: the services record
    clinical times from the clock as it is now, and the demo needs a morning already under way."""
    ride = _ride(session)
    TransportArrangement.objects.update_or_create(
        session=session,
        defaults={**ride, "status": TransportArrangement.Status.CONFIRMED_STAFF, "confirmed_at": arrived},
    )
    CheckIn.objects.create(session=session, arrived_at=arrived, created_at=arrived, checked_in_by=nurse, **CHECKLIST)
    Session.objects.filter(pk=session.pk).update(
        status=SessionStatus.CHECKED_IN, status_changed_at=arrived, version=F("version") + 1
    )
    _reading(session, nurse=nurse, kind=ReadingKind.PRE_DOSE, taken_at=arrived + dt.timedelta(minutes=5), t=t)
    if dosed is None:
        return
    iv = services.session_drug(session) == Drug.IV_KETAMINE
    dose = DoseRecord.objects.create(
        session=session,
        drug=Drug.IV_KETAMINE if iv else Drug.ESKETAMINE,
        dose_mg=rules.iv_total_mg(Decimal("74.0"), Decimal("0.5")) if iv else session.planned_dose_mg,
        devices_planned=None if iv else rules.devices_for_dose(session.planned_dose_mg, t) or 1,
        lot_number="" if iv else "DEMO-24A17",
        weight_kg=Decimal("74.0") if iv else None,
        mg_per_kg=Decimal("0.5") if iv else None,
        infusion_start=dosed if iv else None,
        recorded_by=nurse,
        created_at=dosed,
    )
    for i in range(dose.devices_planned or 0):
        at = dosed + dt.timedelta(minutes=t.device_rest_minutes * i)
        DeviceAdministration.objects.create(
            dose=dose, number=i + 1, administered_at=at, recorded_at=at, recorded_by=nurse
        )
    Observation.objects.create(session=session, started_at=dosed, created_at=dosed)
    Session.objects.filter(pk=session.pk).update(
        status=SessionStatus.IN_OBSERVATION, status_changed_at=dosed, version=F("version") + 1
    )
    _reading(
        session,
        nurse=nurse,
        kind=ReadingKind.CHECKPOINT,
        checkpoint_minute=40,
        values={**NORMAL, "systolic": 148, "diastolic": 92, "spo2": 93, "moaas": 4},
        taken_at=dosed + dt.timedelta(minutes=41),
        notes="Mild dissociation, resting comfortably.",
        t=t,
    )


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
    t = current_thresholds()
    for n, session in enumerate(candidates):
        arrived = now - dt.timedelta(minutes=65 if n == 0 else 10)
        _day_so_far(
            session, nurse=nurse, arrived=arrived, dosed=now - dt.timedelta(minutes=50) if n == 0 else None, t=t
        )
    stdout.write(f"Session-day demo data: {len(candidates)} of today's sessions checked in, one in observation.")
