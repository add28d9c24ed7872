"""Walk every page as each demo role on the embedded default (SQLite), as `make run` serves it.

Run by tests/test_sqlite_smoke.py in its own interpreter: the suite itself runs on PostgreSQL,
and Django connects to one database per process. Prints one line per failure and exits 1 if any.

    DATABASE_URL=sqlite:////tmp/x.sqlite3 python tests/smoke/sqlite_walk.py
"""

import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.urls import URLPattern, URLResolver, get_resolver, reverse  # noqa: E402

ROLES = ("scheduler", "nurse", "prescriber", "admin")
HREF = re.compile(r'href="(/[^"#?]*)')


def url_names(resolver=None, prefix=""):
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            ns = f"{prefix}{entry.namespace}:" if entry.namespace else prefix
            yield from url_names(entry, ns)
        elif isinstance(entry, URLPattern) and entry.name:
            yield prefix + entry.name, entry.pattern.regex.groupindex


def main() -> int:
    setup_test_environment()
    call_command("migrate", verbosity=0, interactive=False)
    call_command("seed_demo", verbosity=0)
    from django.contrib.auth.models import User

    from clinic.broker import broker_prepare
    from clinic.health import heartbeat_touch

    broker_prepare()  # as run_embedded does before it starts the worker
    for process in ("worker", "beat"):  # as a running worker and beat would (/healthz answers 200)
        heartbeat_touch(process)

    from clinic.models import Patient
    from scheduling.models import Course, Session

    patient = Patient.objects.order_by("pk").first()
    session = Session.objects.order_by("pk").first()
    course = Course.objects.order_by("pk").first()
    failures = []
    for role in ROLES:
        client = Client()
        client.force_login(User.objects.get(username=role))
        home = client.get("/", follow=True)
        if home.status_code != 200:
            failures.append(f"{role}: home answered {home.status_code}")
            continue
        body = home.content.decode()
        nav = body[body.find("<nav") : body.find("</nav>")] if "<nav" in body else body
        links = sorted({h for h in HREF.findall(nav) if not h.startswith(("/static/", "/accounts/logout"))})
        if len(links) < 3:
            failures.append(f"{role}: only {len(links)} navigation links found")
        for link in links:
            response = client.get(link, follow=True)
            if response.status_code != 200:
                failures.append(f"{role}: navigation link {link} answered {response.status_code}")
        for name, groups in url_names():
            kwargs = {}
            for key in groups:
                if key != "pk":
                    break
                kwargs["pk"] = {
                    "patient": patient.pk,
                    "course": course.pk,
                }.get(name.split(":")[-1].split("-")[0], session.pk)
            else:
                if name.startswith("admin:"):
                    continue
                response = client.get(reverse(name, kwargs=kwargs))
                if response.status_code >= 500:
                    failures.append(f"{role}: {name} answered {response.status_code}")
    # Every session of the demo data on its day page, whatever state the demo left it in.
    nurse = Client()
    nurse.force_login(User.objects.get(username="nurse"))
    for pk in Session.objects.values_list("pk", flat=True):
        for name in ("monitoring:session-day", "scheduling:session-detail"):
            response = nurse.get(reverse(name, kwargs={"pk": pk}))
            if response.status_code != 200:
                failures.append(f"nurse: {name} of session {pk} answered {response.status_code}")
    for line in failures:
        print(line)
    print(f"walked {len(ROLES)} roles: {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
