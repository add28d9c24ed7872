"""The first site, its chairs and opening hours, and the first administrator, as
``manage.py setup_clinic`` creates them (a service: one transaction, audited as the system)."""

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import Group, User
from django.contrib.auth.password_validation import validate_password
from django.db import transaction

from clinic.formats import when

from .audit import audit_record
from .models import AuditAction, Chair, OpeningHours, Site
from .roles import ADMINISTRATOR


@dataclass
class SetupResult:
    site: Site
    site_created: bool
    chairs_created: int
    administrator: User | None


def clinic_setup(
    *,
    site_name: str,
    time_zone: str,
    chairs: int,
    weekdays: list[int],
    opens: dt.time,
    closes: dt.time,
    admin_username: str = "",
    admin_email: str = "",
    admin_password: str = "",
) -> SetupResult:
    """Create (or complete) the site and add the administrator. Safe to run twice: an existing
    site keeps its settings and gets only the chairs and opening hours it lacks; an existing
    user name is refused (ValueError)."""
    with transaction.atomic():
        site, created = Site.objects.get_or_create(name=site_name, defaults={"time_zone": time_zone})
        if created:
            site.full_clean()
        existing = set(site.chairs.values_list("name", flat=True))
        new_chairs = [Chair(site=site, name=f"Chair {n}") for n in range(1, chairs + 1) if f"Chair {n}" not in existing]
        Chair.objects.bulk_create(new_chairs)
        for weekday in weekdays:
            OpeningHours.objects.get_or_create(site=site, weekday=weekday, defaults={"opens": opens, "closes": closes})
        audit_record(
            action=AuditAction.CREATE if created else AuditAction.UPDATE,
            obj=site,
            actor="system",
            username="setup_clinic",
            summary={
                "chairs_added": len(new_chairs),
                "weekdays": weekdays,
                "hours": f"{when(opens, 'time')}-{when(closes, 'time')}",
            },
        )
        admin = None
        if admin_username:
            if User.objects.filter(username=admin_username).exists():
                raise ValueError(f"a user named {admin_username!r} already exists")
            admin = User(username=admin_username, email=admin_email, is_staff=True)
            validate_password(admin_password, admin)
            admin.set_password(admin_password)
            admin.save()
            admin.groups.add(Group.objects.get(name=ADMINISTRATOR))
            audit_record(
                action=AuditAction.CREATE,
                obj=admin,
                object_type="user",
                actor="system",
                username="setup_clinic",
                summary={"username": admin_username, "role": ADMINISTRATOR},
            )
    return SetupResult(site, created, len(new_chairs), admin)
