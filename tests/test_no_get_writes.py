"""No GET changes data: every URL, for every persona, leaves the row counts (and the latest
update stamps) of the app's tables as they were. The audit trail is the one table a read may
add to. Sessions and lockout bookkeeping belong to signing in, not to the page."""

import pytest
from django.apps import apps
from django.db.models import Max
from django.urls import reverse

from tests.test_access_matrix import EXPECTED, ROLES, all_url_names, world  # noqa: F401  (world is a fixture)

APP_LABELS = ("clinic", "scheduling", "monitoring", "auth")
NOT_CHECKED = {"clinic.auditevent"}


def snapshot():
    state = {}
    for model in apps.get_models():
        label = model._meta.label_lower
        if model._meta.app_label not in APP_LABELS or label in NOT_CHECKED:
            continue
        state[label] = model.objects.count()
        stamps = [f.name for f in model._meta.fields if f.name in ("updated_at", "last_login")]
        if stamps and stamps[0] != "last_login":
            state[f"{label}.{stamps[0]}"] = model.objects.aggregate(latest=Max(stamps[0]))["latest"]
    return state


def test_every_url_is_walked():
    assert set(all_url_names()) <= set(EXPECTED)


@pytest.mark.django_db
def test_no_get_changes_data(world, personas, client):  # noqa: F811
    """One world for every URL (creating it per URL would take minutes); offenders are listed."""
    offenders = []
    for name in sorted(EXPECTED):
        url = reverse(name, kwargs=EXPECTED[name]["kwargs"](world))
        for role in ROLES:
            client.logout()
            if role != "anonymous":
                client.force_login(personas[role])
            before = snapshot()
            response = client.get(url)
            if response.streaming:
                b"".join(response.streaming_content)
            after = snapshot()
            if after != before:
                changed = sorted(k for k in after if after[k] != before.get(k))
                offenders.append(f"GET {url} as {role}: {changed}")
    assert not offenders
