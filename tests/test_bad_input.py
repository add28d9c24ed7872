"""The bad-input walk: every form a role is shown, and the query parameters of the list and
report pages, given oversized text (2.4 MB), malformed numbers and dates, far-past
(0001-01-01) and far-future (9999-12-31) dates, negative and huge ids and page numbers, and
invisible bidirectional characters.

The forms are found the way a person finds them: the pages of ``tests.test_access_matrix``
are read as each role, their ``<form>`` elements parsed, and the session day is walked
forward (check-in, pre-dose reading, dose) with ordinary values so that the forms of its
later steps appear. Each bad value is posted on its own, the other fields keeping what the
page offered, and rolled back afterwards, so every case starts from the same records.

What must hold for every case: no response is a server error; a refused input (the form shown
again, a 4xx, or a redirect with an error message) wrote nothing (row counts and update stamps
of the app's tables unchanged, the audit trail aside); an accepted one stored no invisible
format character, no oversized text and no date outside a sane range."""

import datetime as dt
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
import time_machine
from django.apps import apps
from django.contrib import messages
from django.db import models, transaction
from django.db.models import Q
from django.db.models.functions import Length
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone

from tests.test_access_matrix import EXPECTED, world  # noqa: F401  (world is a fixture)
from tests.test_no_get_writes import APP_LABELS, snapshot

pytestmark = pytest.mark.django_db

HUGE_TEXT = "x" * 2_400_000
BIDI = "\u202e+12125550123 \u2066ok\u2069\u200f"
HUGE_NUMBER = "99999999999999999999"
BAD_VALUES = {
    "text": [HUGE_TEXT, BIDI],
    "number": [HUGE_NUMBER, "-" + HUGE_NUMBER, "1e309", "abc", "NaN"],
    "date": ["0001-01-01", "9999-12-31", "2026-02-30", "20261203"],
    "time": ["25:61", "99:99:99", "-1:00"],
    "datetime-local": ["0001-01-01T00:00", "9999-12-31T23:59"],
    "select": [HUGE_NUMBER, "-1", BIDI],
    "hidden": [HUGE_NUMBER, "-1", "abc", BIDI],
}
TEXT_KINDS = {"text", "textarea", "email", "tel", "search", "url", "password"}
# Query parameters pages read beyond the fields of their filter forms (cursors, links).
QUERY_PARAMETERS = {
    "clinic:audit": ("after", "before"),
    "clinic:patient-access": ("after", "before"),
    "clinic:outbox": ("status",),
    "scheduling:course-create": ("patient",),
    "monitoring:outcomes-report": ("protocol", "start", "end"),
    "monitoring:outcomes-csv": ("protocol", "start", "end"),
}
# The list and report pages: the pages whose query parameters choose what they show.
LIST_PAGES = (
    "monitoring:rems-period-pdf",
    "clinic:patient-list",
    "clinic:audit",
    "clinic:audit-export",
    "clinic:patient-access",
    "clinic:outbox",
    "clinic:alerts",
    "scheduling:day",
    "scheduling:week",
    "scheduling:transport-list",
    "scheduling:course-create",
    "monitoring:board",
    "monitoring:board-table",
    "monitoring:reports",
    "monitoring:reports-csv",
    "monitoring:rems-worklist",
    "monitoring:outcomes-report",
    "monitoring:outcomes-csv",
)
ROLES = ("scheduler", "nurse", "prescriber", "administrator")
# Values a person would type, by field name: the walk uses them to move the session day on and
# to fill the fields it is not testing.
ORDINARY = {
    "no_food_2h": "on",
    "no_liquids_30min": "on",
    "nasal_medicines_1h": "on",
    "rems_enrolment_checked": "on",
    "concomitant_medicines_reviewed": "on",
    "transport_confirmed": "on",
    "transport_kind": "escort",
    "transport_name": "Chris Quinn",
    "transport_phone": "212 555 0177",
    "transport_relationship": "Spouse",
    # Above 140/90 before the dose: the pre-dose override form is shown, and filled.
    "systolic": "150",
    "diastolic": "92",
    "heart_rate": "72",
    "spo2": "98",
    "respiratory_rate": "14",
    "moaas": "5",
    "cadss": "0",
    "dose_mg": "56",
    "lot_number": "LOT12345",
    "weight_kg": "70",
    "mg_per_kg": "0.5",
    "name": "Chris Quinn",
    "phone": "212 555 0177",
    "relationship": "Spouse",
    "reason": "Checked with the prescriber",
    "weekdays": "0",
}
# The forms that move the session day on, in the order a nurse fills them.
# The pages that show the forms, and the roles whose forms they are; the test
# ``test_every_form_of_every_role_is_walked`` reads every page as every role to check that no
# form is left out.
FORM_PAGES = {
    "clinic:integrations": ("administrator",),
    "clinic:patient-import": ("administrator",),
    "clinic:patient-create": ("administrator",),
    "clinic:patient-edit": ("administrator",),
    "confirm:session": ("anonymous",),
    "login": ("anonymous",),
    "password_reset": ("anonymous",),
    "password_change": ("nurse",),
    "second-factor-setup": ("nurse",),
    "scheduling:session-detail": ("scheduler",),
    "scheduling:course-detail": ("scheduler",),
    "monitoring:session-day": ("nurse", "prescriber"),
    "monitoring:rems-record": ("administrator",),
    "monitoring:patient-history": ("prescriber",),
}
DAY_STEPS = ("monitoring:check-in", "monitoring:vitals-record", "monitoring:predose-override", "monitoring:dose-record")
# After the dose the walk moves the clock past the observation's two hours: the discharge forms.
OBSERVED = dt.timedelta(minutes=125)


@dataclass
class Form:
    role: str
    page: str
    method: str
    action: str
    fields: dict = field(default_factory=dict)  # name -> [kind, value, options]

    def ordinary_data(self) -> dict:
        data = {}
        for name, (kind, value, options) in self.fields.items():
            if kind in ("submit", "button", "reset"):
                continue
            if kind == "checkbox":
                if value or name in ORDINARY:
                    data[name] = value or ORDINARY[name]
                continue
            if not value and kind == "select" and options:
                value = next((o for o in options if o), "")
            data[name] = value or ORDINARY.get(name.rsplit("-", 1)[-1], "")
        return data

    def cases(self):
        """(field, bad value) pairs: each bad value of the field's kind, one field at a time."""
        for name, (kind, _, _) in self.fields.items():
            if name == "csrfmiddlewaretoken" or kind in ("checkbox", "radio", "submit", "button", "reset"):
                continue
            kind = "text" if kind in TEXT_KINDS else kind
            for value in BAD_VALUES.get(kind, BAD_VALUES["text"]):
                yield name, value


class _FormParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms, self._form, self._select = [], None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = [(a.get("method") or "get").lower(), a.get("action") or "", {}]
            self.forms.append(self._form)
        elif self._form is not None and tag in ("input", "textarea", "select") and a.get("name"):
            kind = a.get("type", "text") if tag == "input" else tag
            self._form[2].setdefault(a["name"], [kind, a.get("value") or "", []])
            if kind == "checkbox" and "checked" not in a:
                self._form[2][a["name"]][1] = ""
            self._select = self._form[2][a["name"]] if tag == "select" else None
        elif tag == "option" and self._select is not None:
            self._select[2].append(a.get("value", ""))
            if "selected" in a:
                self._select[1] = a.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def forms_of(response, role: str, page: str) -> list[Form]:
    if response.streaming or "html" not in response.get("Content-Type", ""):
        return []
    parser = _FormParser()
    parser.feed(response.content.decode())
    found = []
    for method, action, fields in parser.forms:
        action = urlsplit(action).path or urlsplit(page).path
        if action != reverse("logout"):
            found.append(Form(role, page, method, action, fields))
    return found


def url_name(path: str) -> str | None:
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return match.view_name


class Walk:
    """The forms each role is shown, the session day moved on step by step to show its later
    forms."""

    def __init__(self, client, personas, records):
        self.client, self.personas, self.world = client, personas, records
        self.client.raise_request_exception = False
        self.seen: dict[tuple, Form] = {}
        self.later = None

    def login(self, role: str):
        self.client.logout()
        if role != "anonymous":
            self.client.force_login(self.personas[role])

    def read(self, role: str, url: str) -> list[Form]:
        self.login(role)
        new = []
        for form in forms_of(self.client.get(url), role, url):
            key = (form.method, form.action, tuple(sorted(form.fields)))
            if key not in self.seen:
                self.seen[key] = form
                new.append(form)
        return new

    def pages(self, *, every: bool = False) -> list[tuple[str, str]]:
        """The pages to read: with ``every``, each page of the access matrix as each role that
        may open it; otherwise the pages that hold the forms (FORM_PAGES)."""
        patient = self.world["patient"].pk
        extra = [("scheduler", f"{reverse('scheduling:course-create')}?patient={patient}")]
        if every:
            wanted = [(role, name) for role in (*ROLES, "anonymous") for name in sorted(EXPECTED)]
        else:
            wanted = [(role, name) for name, roles in FORM_PAGES.items() for role in roles]
        pages = [
            (role, reverse(name, kwargs=EXPECTED[name]["kwargs"](self.world)))
            for role, name in wanted
            if EXPECTED[name][role] == 200
        ]
        return pages + extra

    def forms(self, *, every: bool = False, day: bool = True):
        """Every form, as it is found. After the pages, the course wizard's second step and
        (with ``day``) the session day's later steps, each step filled with ordinary values."""
        for role, url in self.pages(every=every):
            yield from self.read(role, url)
        for form in [f for f in self.seen.values() if url_name(f.action) == "scheduling:course-create"]:
            self.login(form.role)
            response = self.client.post(form.action + "?" + urlsplit(form.page).query, form.ordinary_data())
            for found in forms_of(response, form.role, form.page):
                key = (found.method, found.action, tuple(sorted(found.fields)))
                if key not in self.seen:
                    self.seen[key] = found
                    yield found
        if not day:
            return
        day = reverse("monitoring:session-day", kwargs={"pk": self.world["session"].pk})
        for step in DAY_STEPS:
            done = [f for f in self.seen.values() if url_name(f.action) == step]
            for form, role in [(f, r) for f in done[:1] for r in ("nurse", "prescriber")]:
                self.login(role)
                response = self.client.post(form.action, form.ordinary_data())
                if response.status_code != 403:
                    break
            for role in ("nurse", "prescriber"):
                yield from self.read(role, day)
        self.later = time_machine.travel(timezone.now() + OBSERVED, tick=True)
        self.later.start()
        for role in ("nurse", "prescriber"):
            yield from self.read(role, day)

    def close(self):
        if self.later:
            self.later.stop()


@dataclass
class Outcome:
    problems: list = field(default_factory=list)
    cases: int = 0


def _refused(response) -> bool:
    if response.status_code != 302:
        return True
    return any(m.level >= messages.ERROR for m in messages.get_messages(response.wsgi_request))


def _stored_wrongly() -> list[str]:
    """Text with invisible characters or over 100,000 characters, or a date outside 1900 to
    three years ahead, anywhere in the app's tables (the audit trail aside: it records what was
    asked)."""
    latest_year = timezone.localdate().year + 3
    wrong = []
    for model in apps.get_models():
        if model._meta.app_label not in APP_LABELS or model._meta.label_lower == "clinic.auditevent":
            continue
        for f in model._meta.concrete_fields:
            rows = model._default_manager.all()
            if isinstance(f, models.CharField | models.TextField) and not f.choices:
                rows = rows.alias(length=Length(f.name))
                bad = Q(length__gt=100_000)
                for char in ("\u202e", "\u2066", "\u200f"):
                    bad |= Q(**{f"{f.name}__contains": char})
            elif isinstance(f, models.DateField | models.DateTimeField):
                bad = Q(**{f"{f.name}__year__lt": 1900}) | Q(**{f"{f.name}__year__gt": latest_year})
            else:
                continue
            if rows.filter(bad).exists():
                wrong.append(f"{model._meta.label_lower}.{f.name}")
    return wrong


def _try(client, outcome: Outcome, method: str, url: str, data: dict, *, role: str = "anonymous", field: str = ""):
    """One bad input, rolled back afterwards."""
    outcome.cases += 1
    value = data.get(field, "")
    label = f"{role} {method.upper()} {url[:80]}" + (f" {field}={_short(value)!a}" if field else "")
    with transaction.atomic():
        before = snapshot()
        response = getattr(client, method)(url, data)
        if response.streaming:
            b"".join(response.streaming_content)
        if response.status_code >= 500:
            outcome.problems.append(f"{label}: {response.status_code}")
        elif _refused(response):
            after = snapshot()
            if after != before:
                changed = sorted(k for k in after if after[k] != before.get(k))
                outcome.problems.append(f"{label}: refused ({response.status_code}) but wrote {changed}")
        else:
            wrong = _stored_wrongly()
            if wrong:
                outcome.problems.append(f"{label}: accepted and stored {wrong}")
        transaction.set_rollback(True)


def _short(value: str) -> str:
    return value if len(value) < 30 else f"<{len(value)} characters>"


def walk_posts(walk: Walk, target: str) -> Outcome:
    outcome = Outcome()
    for form in walk.forms(day=target.startswith("monitoring:") and not target.startswith("monitoring:rems")):
        if form.method != "post" or url_name(form.action) != target:
            continue
        walk.login(form.role)
        query = urlsplit(form.page).query if url_name(form.page.split("?")[0]) == target else ""
        url = form.action + (f"?{query}" if query else "")
        for name, value in form.cases():
            _try(walk.client, outcome, "post", url, form.ordinary_data() | {name: value}, role=form.role, field=name)
    return outcome


def walk_query(walk: Walk, target: str) -> Outcome:
    outcome = Outcome()
    role = next(role for role in ROLES if EXPECTED[target][role] in (200, 302))
    url = reverse(target, kwargs=EXPECTED[target]["kwargs"](walk.world))
    base = {"patient": walk.world["patient"].pk} if target == "scheduling:course-create" else {}
    names = {"page", "site", "date", *QUERY_PARAMETERS.get(target, ())}
    for form in walk.read(role, url):
        if form.method == "get":
            names |= set(form.fields)
    walk.login(role)
    for name in sorted(names):
        for value in (HUGE_NUMBER, "-1", "0001-01-01", "9999-12-31", "abc", HUGE_TEXT[:100_000], BIDI, "\x00"):
            _try(walk.client, outcome, "get", url, base | {name: value}, role=role, field=name)
    return outcome


def _xfail(name: str, reason: str):
    return pytest.param(name, marks=pytest.mark.xfail(strict=False, reason=reason))


POST_TARGETS = sorted(
    {
        "clinic:integrations",
        "clinic:patient-import",
        "clinic:patient-create",
        "clinic:patient-edit",
        "confirm:session",
        "scheduling:course-create",
        "scheduling:session-move",
        "scheduling:session-cancel",
        "scheduling:session-no-show",
        "scheduling:session-transport",
        "monitoring:check-in",
        "monitoring:vitals-record",
        "monitoring:predose-override",
        "monitoring:dose-record",
        "monitoring:device-record",
        "monitoring:adverse-event",
        "monitoring:rems-submit",
        "monitoring:rems-addendum",
        "monitoring:dose-stop",
        "scheduling:course-stop",
        "login",
        "password_reset",
        "password_change",
        "second-factor-setup",
        "monitoring:vitals-correct",
        "monitoring:discharge",
        "monitoring:rating-record",
        "monitoring:patient-history",
        "monitoring:eligibility-override",
    }
)
# Forms of radio buttons only (the walk types no bad value into a radio button): their bad input
# is tested beside them (tests/monitoring/test_outcomes.py).
RADIO_FORMS = {"monitoring:questionnaire"}
# Forms of the scheduling and monitoring pages that still answer some bad input with a server
# error (issue #25): each mark comes off when its form is fixed.
KNOWN_SERVER_ERRORS: dict[str, str] = {}
GET_TARGETS = sorted(LIST_PAGES)


def _params(names):
    return [_xfail(name, KNOWN_SERVER_ERRORS[name]) if name in KNOWN_SERVER_ERRORS else name for name in names]


@pytest.fixture
def walk(client, personas, world):  # noqa: F811
    walk = Walk(client, personas, world)
    yield walk
    walk.close()


@pytest.mark.parametrize("target", _params(POST_TARGETS))
def test_bad_posts_are_refused_without_a_write(walk, target):
    outcome = walk_posts(walk, target)
    assert outcome.cases, f"no form posting to {target} was found on any page"
    assert not outcome.problems, "\n".join(outcome.problems)


@pytest.mark.parametrize("target", _params(GET_TARGETS))
def test_bad_query_parameters_show_a_page(walk, target):
    outcome = walk_query(walk, target)
    assert not outcome.problems, "\n".join(outcome.problems)


def test_huge_and_zero_ids_in_urls_are_not_found(walk, world):  # noqa: F811
    outcome = Outcome()
    for name, expected in sorted(EXPECTED.items()):
        kwargs = expected["kwargs"](world)
        for key in [k for k, v in kwargs.items() if isinstance(v, int)]:
            for number in (HUGE_NUMBER, "0"):
                url = reverse(name, kwargs=kwargs | {key: number})
                for role in ("administrator", "nurse"):
                    walk.login(role)
                    _try(walk.client, outcome, "get", url, {}, role=role)
                    _try(walk.client, outcome, "post", url, {"version": "1"}, role=role)
    assert outcome.cases
    assert not outcome.problems, "\n".join(outcome.problems)


@pytest.mark.parametrize("token", ["x", "2-" + "a" * 5000, "\u202e2-abc", "..%2F..%2Fetc"])
def test_a_malformed_confirmation_link_is_not_a_server_error(client, token):
    client.raise_request_exception = False
    outcome = Outcome()
    url = f"/c/{token}/"
    _try(client, outcome, "get", url, {})
    _try(client, outcome, "post", url, {"name": HUGE_TEXT, "phone": BIDI}, field="name")
    assert not outcome.problems, "\n".join(outcome.problems)


def test_every_form_of_every_role_is_walked(walk):
    """Every page as every role that may open it: each form that posts is one the walk posts
    to, and each list page is one whose query it walks."""
    found = {(form.method, url_name(form.action)) for form in walk.forms(every=True)}
    assert {name for method, name in found if method == "post"} == set(POST_TARGETS) | RADIO_FORMS
    assert {name for method, name in found if method == "get"} <= set(LIST_PAGES)


def _every_form_field_name() -> set[str]:
    """The name of every field of every form class of the three apps."""
    import importlib
    import inspect

    from django import forms as django_forms

    names = set()
    for module in (
        "clinic.forms",
        "clinic.forms_audit",
        "scheduling.forms",
        "scheduling.views_confirm",
        "monitoring.forms",
        "monitoring.views_reports",
    ):
        for _, cls in inspect.getmembers(importlib.import_module(module), inspect.isclass):
            if issubclass(cls, django_forms.BaseForm) and hasattr(cls, "base_fields"):
                names.update(cls.base_fields)
    return names


POST_ONLY = sorted(name for name, row in EXPECTED.items() if row["scheduler"] == 405)


# Oversized text is walked field by field above; here every field at once would post some
# hundred copies of it.
@pytest.mark.parametrize(
    "value",
    ["x" * 5000, BIDI, HUGE_NUMBER, "9999-12-31", "0001-01-01", "25:61", ""],
    ids=["long-text", "bidi", "huge-number", "year-9999", "year-1", "bad-time", "empty"],
)
def test_every_post_url_answers_junk_without_a_server_error(client, personas, world, value):  # noqa: F811
    """Every POST-only URL of the access matrix, as every role, with every field name any form
    of the app has set to one bad value: the forms the walk above cannot reach with its records
    (an IV infusion's end, a discharge override, an unlock, an outbox retry...) included."""
    client.raise_request_exception = False
    data = dict.fromkeys(_every_form_field_name(), value)
    errors = []
    for role in ("nurse", "prescriber", "scheduler", "administrator"):
        client.force_login(personas[role])
        for name in POST_ONLY:
            url = reverse(name, kwargs=EXPECTED[name]["kwargs"](world))
            with transaction.atomic():
                response = client.post(url, data)
                transaction.set_rollback(True)
            if response.status_code >= 500:
                errors.append(f"{role} {name}: {response.status_code}")
    assert errors == []
