"""The first run of a new installation: a site with its chairs and opening hours, and an
administrator who signs in and adds the rest in the Django admin.

    manage.py setup_clinic                      # asks for each value
    manage.py setup_clinic --site-name "Riverside Clinic" --time-zone America/Chicago --chairs 4 \\
        --days mon-fri --hours 08:00-18:00 --admin-username alex --admin-email alex@clinic.example --noinput
        # the password from SETUP_ADMIN_PASSWORD (never on the command line)

Safe to run again: an existing site gets only the chairs and opening hours it lacks."""

import datetime as dt
import getpass
import os
import re

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from clinic.formats import when
from clinic.setup import clinic_setup

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def parse_days(text: str) -> list[int]:
    """ "mon-fri", "mon,wed,fri" or "mon-sat" -> weekday numbers (Monday 0)."""
    days: list[int] = []
    for part in text.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise CommandError(f"--days: use day names such as mon-fri or mon,wed,fri, not {text!r}")
        start, end = DAYS.index(first), DAYS.index(last or first)
        days += range(start, end + 1)
    return sorted(set(days))


def parse_hours(text: str) -> tuple[dt.time, dt.time]:
    match = re.fullmatch(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)", text.strip())
    if not match:
        raise CommandError(f"--hours: use HH:MM-HH:MM such as 08:00-18:00, not {text!r}")
    opens, closes = dt.time(int(match[1]), int(match[2])), dt.time(int(match[3]), int(match[4]))
    if opens >= closes:
        raise CommandError("--hours: the clinic must open before it closes")
    return opens, closes


class Command(BaseCommand):
    help = "Set up the first site, its chairs and opening hours, and an administrator."

    def add_arguments(self, parser):
        parser.add_argument("--site-name")
        parser.add_argument("--time-zone")
        parser.add_argument("--chairs", type=int)
        parser.add_argument("--days", help="open days, e.g. mon-fri (default)")
        parser.add_argument("--hours", help="opening hours, e.g. 08:00-18:00 (default)")
        parser.add_argument("--admin-username")
        parser.add_argument("--admin-email", default="")
        parser.add_argument("--noinput", "--no-input", action="store_false", dest="interactive")

    def _ask(self, interactive: bool, value, question: str, default: str) -> str:
        if value not in (None, ""):
            return str(value)
        if not interactive:
            return default
        answer = input(f"{question} [{default}]: ").strip() if default else input(f"{question}: ").strip()
        return answer or default

    def handle(self, *args, interactive, **o):
        site_name = self._ask(interactive, o["site_name"], "Site name", "")
        if not site_name:
            raise CommandError("--site-name is required")
        time_zone = self._ask(interactive, o["time_zone"], "Time zone", "America/New_York")
        chairs = int(self._ask(interactive, o["chairs"], "Number of chairs", "4"))
        if not 1 <= chairs <= 100:
            raise CommandError("--chairs must be between 1 and 100")
        days = parse_days(self._ask(interactive, o["days"], "Open days", "mon-fri"))
        opens, closes = parse_hours(self._ask(interactive, o["hours"], "Opening hours", "08:00-18:00"))
        username = self._ask(interactive, o["admin_username"], "Administrator's user name (empty: none)", "")
        email = self._ask(interactive, o["admin_email"], "Administrator's e-mail", "") if username else ""
        password = ""
        if username:
            password = os.environ.get("SETUP_ADMIN_PASSWORD", "")
            if not password and interactive:
                password = getpass.getpass("Administrator's password: ")
                if password != getpass.getpass("Again: "):
                    raise CommandError("The passwords differ")
            if not password:
                raise CommandError("Set SETUP_ADMIN_PASSWORD (or run without --noinput to be asked)")
        try:
            result = clinic_setup(
                site_name=site_name,
                time_zone=time_zone,
                chairs=chairs,
                weekdays=days,
                opens=opens,
                closes=closes,
                admin_username=username,
                admin_email=email,
                admin_password=password,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        state = "created" if result.site_created else "already there"
        self.stdout.write(self.style.SUCCESS(f"Site {result.site.name} ({result.site.time_zone}) {state}"))
        self.stdout.write(
            f"  chairs added: {result.chairs_created}; open {', '.join(DAYS[d] for d in days)} "
            f"{when(opens, 'time')}-{when(closes, 'time')}"
        )
        if result.administrator:
            self.stdout.write(f"  administrator {result.administrator.username} can sign in now")
        self.stdout.write("Add protocols, staff and closures in the Django admin (/admin/).")
