"""First run: ``manage.py setup_clinic`` and the pages that guide an administrator while no
site exists."""

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.urls import reverse

from clinic.models import AuditEvent, Chair, OpeningHours, Site

pytestmark = pytest.mark.django_db
FLAGS = [
    "--site-name",
    "Lakeside Clinic",
    "--time-zone",
    "America/Chicago",
    "--chairs",
    "3",
    "--days",
    "mon-thu,sat",
    "--hours",
    "07:30-17:00",
    "--admin-username",
    "alex",
    "--admin-email",
    "alex@clinic.example",
    "--noinput",
]


def test_it_sets_up_the_site_chairs_hours_and_administrator(monkeypatch, capsys):
    monkeypatch.setenv("SETUP_ADMIN_PASSWORD", "a-long-Setup-passphrase-42")
    call_command("setup_clinic", *FLAGS)
    site = Site.objects.get()
    assert (site.name, site.time_zone) == ("Lakeside Clinic", "America/Chicago")
    assert list(Chair.objects.values_list("name", flat=True)) == ["Chair 1", "Chair 2", "Chair 3"]
    hours = OpeningHours.objects.filter(site=site)
    assert sorted(hours.values_list("weekday", flat=True)) == [0, 1, 2, 3, 5]
    assert {f"{h.opens:%H:%M}-{h.closes:%H:%M}" for h in hours} == {"07:30-17:00"}
    admin = User.objects.get(username="alex")
    assert (
        admin.check_password("a-long-Setup-passphrase-42")
        and admin.is_staff
        and admin.groups.filter(name="Administrator").exists()
    )
    assert AuditEvent.objects.filter(username="setup_clinic", action="create").count() == 2
    assert "administrator alex can sign in now" in capsys.readouterr().out


def test_running_it_again_adds_only_what_is_missing(monkeypatch):
    call_command("setup_clinic", "--site-name", "Lakeside Clinic", "--chairs", "2", "--noinput")
    call_command("setup_clinic", "--site-name", "Lakeside Clinic", "--chairs", "4", "--noinput")
    assert Site.objects.count() == 1 and Chair.objects.count() == 4
    assert OpeningHours.objects.count() == 5  # mon-fri by default, once
    monkeypatch.setenv("SETUP_ADMIN_PASSWORD", "a-long-Setup-passphrase-42")
    call_command("setup_clinic", *FLAGS)
    with pytest.raises(CommandError, match="a user named 'alex' already exists"):
        call_command("setup_clinic", *FLAGS)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--days", "funday"], "--days: use day names"),
        (["--hours", "18:00-08:00"], "open before it closes"),
        (["--time-zone", "Mars/Olympus"], "not a known time zone"),
        (["--admin-username", "sam"], "SETUP_ADMIN_PASSWORD"),
    ],
)
def test_bad_values_are_refused_and_nothing_is_written(flags, message):
    with pytest.raises(CommandError, match=message):
        call_command("setup_clinic", "--site-name", "Lakeside Clinic", *flags, "--noinput")
    assert not Site.objects.exists()


def test_a_weak_password_is_refused(monkeypatch):
    monkeypatch.setenv("SETUP_ADMIN_PASSWORD", "short")
    with pytest.raises(CommandError, match="too short"):
        call_command("setup_clinic", *FLAGS)
    assert not Site.objects.exists()


@pytest.mark.parametrize("url_name", ["monitoring:board", "scheduling:day", "scheduling:week"])
def test_without_a_site_an_administrator_is_shown_how_to_set_one_up(client_for, administrator, nurse, url_name):
    page = client_for(administrator).get(reverse(url_name))
    assert page.status_code == 200
    text = page.content.decode()
    assert "No clinic site is set up yet" in text
    assert reverse("admin:clinic_site_add") in text and "manage.py setup_clinic" in text
    other = client_for(nurse).get(reverse(url_name)).content.decode()
    assert "Ask your clinic's administrator" in other and "setup_clinic" not in other
