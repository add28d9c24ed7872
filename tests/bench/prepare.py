"""Rows the benchmark creates through the ORM: the users it signs in as, the staff the
history refers to, and today's board (20 sessions in observation at the busiest site)."""

import datetime as dt
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.utils import timezone

from clinic.models import Site
from monitoring.models import CheckIn, DeviceAdministration, DoseRecord, Observation, VitalsReading
from scheduling.models import Protocol, Session, SessionStatus, TransportArrangement

from .loader import STAFF_ROLES, World, make_world
from .scales import Scale

PASSWORD = "bench-Passw0rd-not-secret"  # noqa: S105 - throwaway users of a throwaway database
# username -> role (group); the superuser opens the Django admin.
BENCH_USERS = {
    "bench_nurse": "Nurse",
    "bench_scheduler": "Scheduler",
    "bench_admin": "Administrator",
    "bench_superuser": None,
}
BOARD_SESSIONS = 20


def create_users(scale: Scale) -> None:
    User = get_user_model()
    groups = {g.name: g for g in Group.objects.all()}
    hashed = None
    for username, role in BENCH_USERS.items():
        user = User(username=username, is_staff=role is None, is_superuser=role is None)
        if hashed is None:
            user.set_password(PASSWORD)
            hashed = user.password
        user.password = hashed
        user.save()
        if role:
            user.groups.add(groups[role])
    for site in range(scale.sites):
        for n, role in enumerate(STAFF_ROLES):
            user = User(username=f"{role.lower()}{site + 1:02d}{'abcd'[n]}", first_name=role, last_name=str(site + 1))
            user.set_unusable_password()
            user.save()
            user.groups.add(groups[role])


def world_for(scale: Scale) -> World:
    User = get_user_model()
    staff = []
    for user in User.objects.filter(username__regex=r"^[a-z]+\d\d[a-d]$").prefetch_related("groups").order_by("pk"):
        site = int(user.username[-3:-1]) - 1
        staff.append((user.pk, user.username, user.groups.all()[0].name, site))
    return make_world(
        scale,
        protocol_id=Protocol.objects.get(slug="esketamine-trd").pk,
        scheduler_id=User.objects.get(username="bench_scheduler").pk,
        staff=staff,
    )


def busy_site() -> Site:
    """The site the board and week view open on by default (first by name)."""
    return Site.objects.order_by("name").first()


def _remove_benchmark_readings(nurse) -> None:
    """The vitals POST of an earlier run saved thousands of extra readings on the board's
    sessions (a real observation has five or six). Remove them so every run measures the
    board as loaded. Readings are append-only (a trigger refuses deletes); the trigger is
    skipped for this transaction only, on the benchmark's own database."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
    VitalsReading.objects.filter(
        kind="extra", recorded_by=nurse, supersedes__isnull=True, session__status=SessionStatus.IN_OBSERVATION
    ).delete()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")


@transaction.atomic
def prepare_board(now: dt.datetime | None = None) -> list[int]:
    """Put 20 of today's sessions at the busy site in observation (check-in, dose, devices,
    observation, pre-dose and due checkpoint readings, confirmed ride). Idempotent: sessions
    already in observation today count. Returns their ids.

    Twelve chairs cannot hold 20 patients at once, so the observations start at staggered
    times over the last two hours whatever the booked slot: the board's queries and
    rendering do not depend on it."""
    now = now or timezone.now()
    site = busy_site()
    nurse = get_user_model().objects.get(username="bench_nurse")
    _remove_benchmark_readings(nurse)
    tz = site.tzinfo
    day_start = dt.datetime.combine(now.astimezone(tz).date(), dt.time.min, tzinfo=tz)
    today = Session.objects.filter(
        chair__site=site, start__gte=day_start, start__lt=day_start + dt.timedelta(days=1)
    ).order_by("start", "chair__name")
    chosen = list(today.filter(status=SessionStatus.IN_OBSERVATION).values_list("pk", flat=True))
    missing = BOARD_SESSIONS - len(chosen)
    candidates = list(today.filter(status=SessionStatus.BOOKED)[:missing]) if missing > 0 else []
    if len(chosen) + len(candidates) < BOARD_SESSIONS:
        raise SystemExit(f"only {len(chosen) + len(candidates)} sessions today at {site}: load the data again")
    for n, session in enumerate(candidates, start=len(chosen)):
        started = now - dt.timedelta(minutes=5 + 5 * n)
        arrived = started - dt.timedelta(minutes=20)
        TransportArrangement.objects.update_or_create(
            session=session,
            defaults={"name": "Escort", "phone": "+15550100999", "status": "confirmed_staff", "confirmed_at": arrived},
        )
        checklist = dict.fromkeys(CheckIn.CHECKLIST, True)
        CheckIn.objects.create(session=session, arrived_at=arrived, checked_in_by=nurse, **checklist)
        reading = {"systolic": 128, "diastolic": 78, "heart_rate": 72, "spo2": 98, "respiratory_rate": 14, "moaas": 5}
        VitalsReading.objects.create(
            session=session, kind="pre_dose", taken_at=arrived + dt.timedelta(minutes=5), recorded_by=nurse, **reading
        )
        dose = DoseRecord.objects.create(
            session=session, drug="esketamine", dose_mg=Decimal("56.0"), devices_planned=2, recorded_by=nurse
        )
        for number in (1, 2):
            DeviceAdministration.objects.create(
                dose=dose,
                number=number,
                administered_at=started + dt.timedelta(minutes=5 * (number - 1)),
                recorded_by=nurse,
            )
        Observation.objects.create(session=session, started_at=started)
        if now - started > dt.timedelta(minutes=40):
            VitalsReading.objects.create(
                session=session,
                kind="checkpoint",
                checkpoint_minute=40,
                taken_at=started + dt.timedelta(minutes=40),
                recorded_by=nurse,
                **reading,
            )
        Session.objects.filter(pk=session.pk).update(status=SessionStatus.IN_OBSERVATION, status_changed_at=started)
        chosen.append(session.pk)
    return chosen[:BOARD_SESSIONS]
