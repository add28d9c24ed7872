"""Demo data for the core app: one user per role, a site with six chairs, 30 fake patients.
Idempotent: running it again changes nothing."""

import datetime as dt
import random

from django.contrib.auth.models import Group, User
from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import Chair, Closure, EscortContact, OpeningHours, Patient, Site

DEMO_PASSWORD = "clinic-demo-2026"  # noqa: S105  (documented demo login, refused in production)
DEMO_USERS = [
    # username, first, last, role
    ("scheduler", "Sam", "Rivera", "Scheduler"),
    ("nurse", "Nora", "Chen", "Nurse"),
    ("prescriber", "Priya", "Shah", "Prescriber"),
    ("admin", "Alex", "Morgan", "Administrator"),
]
# Administrators and prescribers sign in with a second factor (OTP_REQUIRED_ROLES): the demo
# accounts share the RFC 6238 test key, base32 GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ.
DEMO_SECOND_FACTOR_USERS = ("admin", "prescriber")
DEMO_TOTP_KEY_HEX = b"12345678901234567890".hex()
FIRST = [
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Ava",
    "Elijah",
    "Sophia",
    "James",
    "Isabella",
    "Lucas",
    "Mia",
    "Mason",
    "Amelia",
    "Ethan",
    "Harper",
    "Logan",
    "Evelyn",
    "Aiden",
    "Abigail",
    "Jacob",
    "Ella",
    "Daniel",
    "Grace",
    "Henry",
    "Chloe",
    "Owen",
    "Zoe",
    "Caleb",
    "Nora",
    "Isaac",
]
LAST = [
    "Garcia",
    "Smith",
    "Johnson",
    "Brown",
    "Miller",
    "Davis",
    "Martinez",
    "Lopez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Hill",
]
RELATIONSHIPS = ["Spouse", "Partner", "Parent", "Sibling", "Friend", "Adult child"]


def demo_site() -> Site:
    site, created = Site.objects.get_or_create(
        name="Riverside Clinic",
        defaults={"time_zone": "America/New_York", "phone": "+15550100100", "address": "1 River Road"},
    )
    if created:
        for weekday in range(5):
            OpeningHours.objects.create(site=site, weekday=weekday, opens=dt.time(8), closes=dt.time(18))
        OpeningHours.objects.create(site=site, weekday=5, opens=dt.time(9), closes=dt.time(14))
        for n in range(1, 7):
            Chair.objects.create(site=site, name=f"Chair {n}")
        Closure.objects.create(site=site, date=dt.date(2026, 12, 25), reason="Christmas Day")
        Closure.objects.create(site=site, date=dt.date(2027, 1, 1), reason="New Year's Day")
    return site


def seed(stdout) -> None:
    for username, first, last, role in DEMO_USERS:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"first_name": first, "last_name": last, "email": f"{username}@clinic.example"},
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.is_staff = role == "Administrator"
            user.save()
            user.groups.add(Group.objects.get(name=role))
    for username in DEMO_SECOND_FACTOR_USERS:
        # A documented authenticator key (README: demo logins); the demo refuses to load in production.
        TOTPDevice.objects.get_or_create(
            user=User.objects.get(username=username),
            name="authenticator",
            defaults={"key": DEMO_TOTP_KEY_HEX, "confirmed": True},
        )
    site = demo_site()
    rng = random.Random(20261120)
    for i in range(30):
        mrn = f"MRN{100001 + i}"
        if Patient.objects.filter(mrn=mrn).exists():
            continue
        first, last = FIRST[i], LAST[i]
        patient = Patient.objects.create(
            mrn=mrn,
            first_name=first,
            last_name=last,
            date_of_birth=dt.date(rng.randint(1950, 2000), rng.randint(1, 12), rng.randint(1, 28)),
            sex=rng.choice(["F", "M"]),
            phone=f"+1212555{100 + i:04d}",
            email=f"{first.lower()}.{last.lower()}@example.com",
            preferred_channel="sms" if i % 3 else "email",
            reminder_opt_out=(i == 29),
            site=site,
            rems_enrollment_id="" if i in (27, 28) else f"RMS{700000 + i}",
            rems_enrollment_date=None if i in (27, 28) else dt.date(2026, 9, 1) + dt.timedelta(days=i),
            takes_benzodiazepines=(i % 7 == 0),
            caution_prescriber_note="Reviewed: stable on current dose." if i % 7 == 0 else "",
            aneurysmal_vascular_disease=(i == 26),
        )
        EscortContact.objects.create(
            patient=patient,
            name=f"{rng.choice(FIRST)} {last}",
            phone=f"+1212555{200 + i:04d}",
            relationship=rng.choice(RELATIONSHIPS),
            is_emergency_contact=True,
        )
    stdout.write(f"Core demo data: {len(DEMO_USERS)} users, site {site.name} with 6 chairs, 30 patients.")
