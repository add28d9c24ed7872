"""Role x URL matrix: every named URL in the project, for every persona, answers as expected.

The resolver is walked, so a new URL without a row in EXPECTED fails
``test_every_url_has_an_expectation``: add the row when you add the URL."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

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
    "healthz": row(none, 200, 200, 200, 200, anonymous=200),
    "login": row(none, 302, 302, 302, 302, anonymous=200),
    "logout": row(none, 405, 405, 405, 405, anonymous=405),
    "clinic:patient-list": row(none, 200, 200, 200, 200),
    "clinic:patient-create": row(none, 200, 403, 403, 200),
    "clinic:patient-detail": row(lambda w: {"pk": w["patient"].pk}, 200, 200, 200, 200),
    "clinic:patient-edit": row(lambda w: {"pk": w["patient"].pk}, 200, 403, 403, 200),
    "clinic:alerts": row(none, 200, 200, 200, 200),
    "clinic:alert-acknowledge": row(lambda w: {"pk": 1}, 405, 405, 405, 405),
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
    return {"site": site, "patient": factories.make_patient(site=site)}


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
