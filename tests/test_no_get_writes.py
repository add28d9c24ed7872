"""No GET changes data: every URL, for every persona, leaves the row counts (and the latest
update stamps) of the app's tables as they were. The audit trail is the one table a read may
add to. Sessions and lockout bookkeeping belong to signing in, not to the page."""

import pytest
from django.apps import apps
from django.db import connection
from django.urls import reverse

from tests.test_access_matrix import EXPECTED, ROLES, all_url_names, world  # noqa: F401  (world is a fixture)

APP_LABELS = ("clinic", "scheduling", "monitoring", "auth")
NOT_CHECKED = {"clinic.auditevent"}


def _snapshot_columns() -> list[tuple[str, str]]:
    """(key, SQL expression) for every checked table: its row count and, where it has one, its
    latest update stamp."""
    columns = []
    for model in apps.get_models():
        label = model._meta.label_lower
        if model._meta.app_label not in APP_LABELS or label in NOT_CHECKED:
            continue
        table = connection.ops.quote_name(model._meta.db_table)
        columns.append((label, f"(SELECT count(*) FROM {table})"))  # noqa: S608
        stamps = [f for f in model._meta.fields if f.name in ("updated_at", "last_login")]
        if stamps and stamps[0].name != "last_login":
            column = connection.ops.quote_name(stamps[0].column)
            columns.append((f"{label}.{stamps[0].name}", f"(SELECT max({column}) FROM {table})"))  # noqa: S608
    return columns


def snapshot():
    """The row counts and latest update stamps of the app's tables, in one statement (the walks
    take one before every case)."""
    columns = _snapshot_columns()
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(sql for _, sql in columns))  # noqa: S608  (table names from the models)
        row = cursor.fetchone()
    return {key: value for (key, _), value in zip(columns, row, strict=True)}


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
