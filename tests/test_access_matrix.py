"""Role x URL matrix: every named URL in the project, for every persona, answers as expected.

The resolver is walked, so a new URL without a row in EXPECTED fails
``test_every_url_has_an_expectation``: add the row when you add the URL."""

import datetime as dt

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from scheduling.links import confirm_token
from scheduling.models import Course, Protocol, Session
from tests import factories

ROLES = ("anonymous", "scheduler", "nurse", "prescriber", "administrator", "inactive")
LOGIN = 302  # anonymous (and inactive) users are sent to the login page


def row(kwargs, scheduler, nurse, prescriber, administrator, anonymous=LOGIN):
    return {
        "kwargs": kwargs,
        "anonymous": anonymous,
        "scheduler": scheduler,
        "nurse": nurse,
        "prescriber": prescriber,
        "administrator": administrator,
        "inactive": anonymous,
    }


def none(world):
    return {}


# url name -> expected GET status per persona. Redirecting home pages answer 302.
EXPECTED = {
    "home": row(none, 302, 302, 302, 302),
    # No worker or beat has written a heartbeat in the test database: /healthz says so (503).
    "healthz": row(none, 503, 503, 503, 503, anonymous=503),
    "favicon": row(none, 301, 301, 301, 301, anonymous=301),
    "login": row(none, 302, 302, 302, 302, anonymous=200),
    "logout": row(none, 405, 405, 405, 405, anonymous=405),
    "account": row(none, 200, 200, 200, 200),
    # Personas have no authenticator: the code page sends them to set one up.
    "second-factor": row(none, 302, 302, 302, 302),
    "second-factor-setup": row(none, 200, 200, 200, 200),
    "recovery-codes": row(none, 405, 405, 405, 405),
    "password_change": row(none, 200, 200, 200, 200),
    "password_change_done": row(none, 200, 200, 200, 200),
    "password_reset": row(none, 200, 200, 200, 200, anonymous=200),
    "password_reset_done": row(none, 200, 200, 200, 200, anonymous=200),
    "password_reset_confirm": row(lambda w: {"uidb64": "MQ", "token": "x-y"}, 200, 200, 200, 200, anonymous=200),
    "password_reset_complete": row(none, 200, 200, 200, 200, anonymous=200),
    "clinic:patient-list": row(none, 200, 200, 200, 200),
    "clinic:patient-create": row(none, 200, 403, 403, 200),
    "clinic:patient-detail": row(lambda w: {"pk": w["patient"].pk}, 200, 200, 200, 200),
    "clinic:patient-edit": row(lambda w: {"pk": w["patient"].pk}, 200, 403, 403, 200),
    "clinic:patient-access": row(lambda w: {"pk": w["patient"].pk}, 403, 403, 403, 200),
    "clinic:audit": row(none, 403, 403, 403, 200),
    # The export links lead to the page that asks for the job (clinic.exports).
    "clinic:audit-export": row(none, 403, 403, 403, 302),
    "clinic:exports": row(none, 403, 403, 403, 200),
    "clinic:export-new": row(none, 404, 404, 404, 404),  # without ?kind=: no such export
    # A job is seen only by whoever asked for it (the world has none).
    **{
        f"clinic:{name}": row(lambda w: {"pk": 1}, 404, 404, 404, 404)
        for name in ("export-detail", "export-progress", "export-download")
    },
    "clinic:audit-lockouts": row(none, 403, 403, 403, 200),
    "clinic:audit-unlock": row(none, 405, 405, 405, 405),
    "clinic:alerts": row(none, 200, 200, 200, 200),
    "clinic:alert-acknowledge": row(lambda w: {"pk": 1}, 405, 405, 405, 405),
    "clinic:outbox": row(none, 403, 403, 403, 200),
    "clinic:outbox-retry": row(lambda w: {"source": "reminders", "pk": 1}, 405, 405, 405, 405),
    # The patient's confirmation link needs no login: everyone gets the same page.
    "confirm:session": row(lambda w: {"token": w["confirm_token"]}, 200, 200, 200, 200, anonymous=200),
    "confirm:done": row(lambda w: {"token": w["confirm_token"]}, 302, 302, 302, 302, anonymous=302),
    "scheduling:day": row(none, 200, 200, 200, 200),
    "scheduling:week": row(none, 200, 200, 200, 200),
    "scheduling:transport-list": row(none, 200, 200, 200, 200),
    "scheduling:course-create": row(none, 302, 403, 403, 302),  # without ?patient=: to the patient list
    "scheduling:course-detail": row(lambda w: {"pk": w["course"].pk}, 200, 200, 200, 200),
    "scheduling:course-replan": row(lambda w: {"pk": w["course"].pk}, 405, 405, 405, 405),
    "scheduling:course-stop": row(lambda w: {"pk": w["course"].pk}, 405, 405, 405, 405),
    # Prescribers decide reviews; a course not paused for one sends them back to the course page.
    "scheduling:course-review": row(lambda w: {"pk": w["course"].pk}, 403, 403, 302, 302),
    "scheduling:review-list": row(none, 403, 403, 200, 200),
    "scheduling:session-detail": row(lambda w: {"pk": w["session"].pk}, 200, 200, 200, 200),
    **{
        f"scheduling:{name}": row(lambda w: {"pk": w["session"].pk}, 405, 405, 405, 405)
        for name in ("session-move", "session-cancel", "session-no-show", "session-transport")
    },
    "monitoring:board": row(none, 200, 200, 200, 200),
    "monitoring:reports": row(none, 403, 403, 403, 200),
    "monitoring:reports-csv": row(lambda w: {"slug": "no-show-rate"}, 403, 403, 403, 302),
    "monitoring:board-table": row(none, 200, 200, 200, 200),
    "monitoring:session-day": row(lambda w: {"pk": w["session"].pk}, 200, 200, 200, 200),
    **{
        f"monitoring:{name}": row(lambda w: {"pk": w["session"].pk}, 405, 405, 405, 405)
        for name in (
            "check-in",
            "vitals-record",
            "predose-override",
            "dose-record",
            "device-record",
            "infusion-end",
            "adverse-event",
            "discharge-override",
            "discharge",
            "rems-submit",
            "dose-stop",
            "first-dose-override",
            "rems-addendum",
            "session-addendum",
        )
    },
    "monitoring:vitals-correct": row(lambda w: {"pk": w["session"].pk, "reading_pk": 1}, 405, 405, 405, 405),
    "monitoring:rems-record": row(lambda w: {"pk": w["session"].pk}, 403, 403, 403, 200),
    "monitoring:rems-worklist": row(none, 403, 403, 403, 200),
    # Outcome scores: the patient's questionnaire is on their signed link (no login); with no
    # answers yet its thank-you page sends them to the questions.
    "monitoring:questionnaire": row(lambda w: {"token": w["confirm_token"]}, 200, 200, 200, 200, anonymous=200),
    "monitoring:questionnaire-done": row(lambda w: {"token": w["confirm_token"]}, 302, 302, 302, 302, anonymous=302),
    "monitoring:rating-record": row(lambda w: {"pk": w["session"].pk}, 405, 405, 405, 405),
    "monitoring:safety-acknowledge": row(lambda w: {"pk": w["session"].pk, "score_pk": 1}, 405, 405, 405, 405),
    "monitoring:patient-history": row(lambda w: {"pk": w["patient"].pk}, 403, 200, 200, 403),
    "monitoring:eligibility-override": row(lambda w: {"pk": w["patient"].pk}, 405, 405, 405, 405),
    "monitoring:outcomes-report": row(none, 403, 403, 403, 200),
    "monitoring:outcomes-csv": row(none, 403, 403, 403, 200),
    # Integrations: tokens and the patient import are an administrator's; the FHIR export answers
    # JSON (401 without a sign-in or token, 400 for a search without its patient).
    "clinic:integrations": row(none, 403, 403, 403, 200),
    "clinic:integration-revoke": row(lambda w: {"pk": 1}, 405, 405, 405, 405),
    "clinic:patient-import": row(none, 403, 403, 403, 200),
    "clinic:patient-import-template": row(none, 403, 403, 403, 200),
    "fhir:patient-everything": row(lambda w: {"pk": w["patient"].pk}, 403, 403, 403, 200, anonymous=401),
    "fhir:observation-search": row(none, 403, 403, 403, 400, anonymous=401),
    "fhir:code-system": row(none, 403, 403, 403, 200, anonymous=401),
    "monitoring:rems-pdf": row(lambda w: {"pk": w["session"].pk}, 403, 403, 403, 200),
    "monitoring:rems-period-pdf": row(none, 403, 403, 403, 200),
    # Calendar files: a feed's token that names no feed is a 404 for everyone; the patient's own
    # session through their link needs no sign-in.
    "calendar:site-feed": row(lambda w: {"token": "not-a-token"}, 404, 404, 404, 404, anonymous=404),
    "calendar:patient-session": row(lambda w: {"token": w["confirm_token"]}, 200, 200, 200, 200, anonymous=200),
}


def _walk(patterns, namespace=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
            yield from _walk(p.url_patterns, ns)
        elif isinstance(p, URLPattern) and p.name:
            yield f"{namespace}{p.name}"


def all_url_names():
    # Django's admin has its own permission system and is excluded on purpose.
    return sorted({name for name in _walk(get_resolver().url_patterns) if not name.startswith("admin:")})


def test_every_url_has_an_expectation():
    missing = [name for name in all_url_names() if name not in EXPECTED]
    assert not missing, f"add these URLs to EXPECTED in {__file__}: {missing}"


@pytest.fixture
def world(db, site):
    """One object of each kind, for URLs that take an id."""
    patient = factories.make_patient(site=site)
    world = {"site": site, "patient": patient}
    start = timezone.now().replace(microsecond=0)
    world["session"] = Session.objects.create(
        patient=patient,
        chair=site.chairs.first(),
        start=start,
        planned_end=start + dt.timedelta(hours=2),
        planned_dose_mg=56,
    )
    upcoming = Session.objects.create(
        patient=patient,
        chair=site.chairs.last(),
        start=start + dt.timedelta(days=3),
        planned_end=start + dt.timedelta(days=3, hours=2),
        planned_dose_mg=56,
    )
    world["confirm_token"] = confirm_token(upcoming.pk)
    world["course"] = Course.objects.create(
        patient=patient,
        protocol=Protocol.objects.get(slug="esketamine-trd"),
        site=site,
        start_date=start.date(),
        weekdays=[0, 3],
        start_time=dt.time(9),
        created_by=factories.make_user("course-author"),
    )
    return world


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_role_access(name, world, personas, client):
    expected = EXPECTED[name]
    url = reverse(name, kwargs=expected["kwargs"](world))
    got = {}
    for role in ROLES:
        client.logout()
        if role != "anonymous":
            user = personas[role]
            client.force_login(user)  # an inactive user is still refused by the auth backend
        got[role] = client.get(url).status_code
    assert got == {role: expected[role] for role in ROLES}
