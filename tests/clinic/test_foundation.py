import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from clinic.models import AuditEvent

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "role,home",
    [("scheduler", "/schedule/"), ("nurse", "/board/"), ("prescriber", "/board/"), ("administrator", "/reports/")],
)
def test_home_takes_each_role_to_its_page(role, home, personas, client_for):
    response = client_for(personas[role]).get("/")
    assert response.status_code == 302
    assert response["Location"] == home


def test_navigation_shows_only_what_the_role_may_use(client_for, nurse, administrator):
    nurse_page = client_for(nurse).get(reverse("clinic:patient-list")).content.decode()
    assert ">Patients<" in nurse_page
    assert ">Audit<" not in nurse_page
    admin_page = client_for(administrator).get(reverse("clinic:patient-list")).content.decode()
    assert ">Audit<" in admin_page


def test_navigation_marks_the_page_escapes_the_name_and_signs_out(client, scheduler):
    scheduler.first_name, scheduler.last_name = "<b>Ann</b>", "O'Hara"
    scheduler.save()
    client.force_login(scheduler)
    page = client.get(reverse("scheduling:week")).content.decode()
    # Only the longest matching entry is the current page: the week, not also the day.
    assert '<a class="nav-link active" href="/schedule/week/" aria-current="page">Week</a>' in page
    assert page.count('aria-current="page"') == 1
    assert "&lt;b&gt;Ann&lt;/b&gt; O&#x27;Hara · Scheduler" in page and "<b>Ann</b>" not in page
    # The sign-out form carries a working CSRF token (the test client checks it when asked to).
    import re

    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(scheduler)
    form = strict.get(reverse("scheduling:week")).content.decode()
    token = re.search(
        r'action="/accounts/logout/"[^>]*><input type="hidden" name="csrfmiddlewaretoken" value="([^"]+)"', form
    )
    assert strict.post(reverse("logout"), {"csrfmiddlewaretoken": token.group(1)}).status_code == 302
    assert strict.get(reverse("scheduling:week")).status_code == 302  # signed out: sent to sign in


def test_every_page_loads_the_stylesheets_and_scripts_from_the_static_url(client_for, nurse, settings):
    page = client_for(nurse).get(reverse("clinic:patient-list")).content.decode()
    head, body = page.split("</head>")
    assert (
        '<link rel="stylesheet" href="/static/vendor/bootstrap/bootstrap.min.css">'
        '<link rel="stylesheet" href="/static/css/app.css">'
    ) in head
    scripts = (
        '<script src="/static/vendor/bootstrap/bootstrap.bundle.min.js"></script>'
        '<script src="/static/vendor/htmx/htmx.min.js"></script><script src="/static/js/app.js"></script>'
    )
    assert scripts in body and body.index(scripts) > body.index("</main>")
    # The tags are built once; a changed static URL (a deployment behind a CDN path) is followed.
    settings.STATIC_URL = "/assets/"
    page = client_for(nurse).get(reverse("clinic:patient-list")).content.decode()
    assert 'href="/assets/css/app.css"' in page and '<script src="/assets/js/app.js">' in page
    assert "/static/" not in page


def test_navigation_counts_the_open_alerts_of_the_role(client_for, nurse, scheduler, administrator):
    import re

    from django.utils import timezone

    from clinic.models import StaffAlert

    def count(user):
        page = client_for(user).get(reverse("clinic:patient-list") if user != scheduler else "/schedule/")
        return int(re.search(r'id="alert-count">(\d+)<', page.content.decode()).group(1))

    for n, audience in enumerate(["nurse", "nurse", "scheduler", "administrator"]):
        StaffAlert.objects.create(kind="test", audience=audience, message="m", dedupe_key=f"k{n}")
    StaffAlert.objects.create(
        kind="test", audience="nurse", message="m", dedupe_key="done", acknowledged_at=timezone.now()
    )
    assert (count(nurse), count(scheduler), count(administrator)) == (2, 1, 4)
    StaffAlert.objects.filter(dedupe_key="k0").update(acknowledged_at=timezone.now())
    assert (count(nurse), count(administrator)) == (1, 3)


def test_login_logout_and_failed_login_are_audited(client, nurse):
    from tests.factories import PASSWORD

    assert client.post(reverse("login"), {"username": "nurse", "password": "wrong"}).status_code == 200
    assert client.post(reverse("login"), {"username": "nurse", "password": PASSWORD}).status_code == 302
    client.post(reverse("logout"))
    actions = list(AuditEvent.objects.order_by("id").values_list("action", "username"))
    assert actions == [("login_failed", "nurse"), ("login", "nurse"), ("logout", "nurse")]


def test_unauthenticated_users_are_sent_to_login_and_back(client, patient):
    response = client.get(patient.get_absolute_url())
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next=/patients/{patient.pk}/"


def test_embedded_mode_starts_without_any_server(tmp_path):
    """No environment: SQLite and the SQLite broker; migrate + seed_demo work and the
    login page renders."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env["DJANGO_SETTINGS_MODULE"] = "clinic.settings"
    script = f"""
import django, os
from pathlib import Path
from django.conf import settings
settings.DATABASES["default"]["NAME"] = Path({str(tmp_path)!r}) / "db.sqlite3"
django.setup()
from django.core.management import call_command
from django.test import Client
assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
assert settings.CELERY_BROKER_URL.startswith("sqla+sqlite:///")
assert settings.CELERY_BROKER_URL.endswith("var/celery/broker.sqlite3")
call_command("migrate", verbosity=0)
call_command("seed_demo")
call_command("seed_demo")
r = Client(HTTP_HOST="localhost").get("/accounts/login/")
assert r.status_code == 200 and b"Sign in" in r.content, r.status_code
c = Client(HTTP_HOST="localhost")
r = c.post("/accounts/login/", dict(username="nurse", password="clinic-demo-2026"))
assert r.status_code == 302, r.status_code
print("EMBEDDED-OK")
"""
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert "EMBEDDED-OK" in result.stdout, result.stderr[-3000:]


def test_seed_demo_refuses_with_debug_off(settings):
    from django.core.management import CommandError, call_command

    settings.DEBUG = False
    with pytest.raises(CommandError, match="Refusing"):
        call_command("seed_demo")


def test_bad_environment_values_stop_start_up():
    env = {**os.environ, "DEBUG": "maybe"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "DEBUG must be True or False, not 'maybe'" in result.stderr


@pytest.mark.django_db
def test_postgresql_prepares_a_statement_run_twice_on_a_connection(patient):
    """The second run of the same statement on a connection uses a server-side prepared
    statement, so PostgreSQL does not parse and plan it again."""
    from django.db import connection

    from clinic.models import Patient

    for _ in range(2):
        assert Patient.objects.filter(pk=patient.pk).values_list("mrn", flat=True)[0] == patient.mrn
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        statements = [row[0] for row in cursor.fetchall()]
    assert any('FROM "clinic_patient"' in statement for statement in statements), statements


def test_prepared_statements_can_be_switched_off_for_a_pooler():
    script = """
import django
from django.conf import settings
django.setup()
options = settings.DATABASES["default"].get("OPTIONS", {})
print("OPTIONS", sorted(options.items()))
"""
    url = os.environ["DATABASE_URL"]
    results = {}
    for value in ("True", "False"):
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "DB_PREPARED_STATEMENTS": value,
            "DJANGO_SETTINGS_MODULE": "clinic.settings",
        }
        done = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr[-2000:]
        results[value] = done.stdout
    assert "('prepare_threshold', 1), ('server_side_binding', True)" in results["True"]
    assert "server_side_binding" not in results["False"]


def test_the_site_pickers_list_every_site_by_name_as_the_orm_loads_them(django_assert_num_queries, site):
    from clinic.models import Site
    from clinic.selectors import all_sites
    from scheduling.selectors import site_choice

    Site.objects.create(name="Annex (closed)", time_zone="America/Chicago")
    Site.objects.create(name="Zeta Clinic", time_zone="Europe/London", phone="020 7946 0000")
    with django_assert_num_queries(1):
        sites = all_sites()
    assert [s.name for s in sites] == ["Annex (closed)", site.name, "Zeta Clinic"]
    expected = list(Site.objects.order_by("name"))
    assert [{f.attname: getattr(s, f.attname) for f in Site._meta.concrete_fields} for s in sites] == [
        {f.attname: getattr(s, f.attname) for f in Site._meta.concrete_fields} for s in expected
    ]
    assert sites[2].tzinfo.key == "Europe/London" and not sites[0]._state.adding
    # The schedule opens on the site asked for, else the first site with an active chair.
    assert site_choice(str(sites[2].pk)) == sites[2]
    assert site_choice("") == site and site_choice("999999") == site
