"""The scale benchmark's loader writes the audit hash chain with string formatting instead of
clinic.audit.row_digest (10 million rows): every digest must be the one row_digest gives for
the row as the database returns it, or `manage.py audit_verify` fails on the loaded data."""

import datetime as dt
import json

import pytest
from django.test import override_settings

from clinic.audit import GENESIS_HASH, row_digest
from tests.bench import loader
from tests.bench.scales import Scale

SCALE = Scale("test", sites=3, chairs_per_site=2, patients=60, sessions=600, readings=300, audit_events=5000)
STAFF = [
    (11 + 4 * site + n, f"{role.lower()}{site + 1:02d}{'abcd'[n]}", role, site)
    for site in range(SCALE.sites)
    for n, role in enumerate(loader.STAFF_ROLES)
]


def world():
    return loader.make_world(SCALE, protocol_id=1, scheduler_id=1, staff=STAFF)


def audit_rows(**kwargs) -> list[dict]:
    """The generated COPY lines as the values the database hands back for them."""
    rows = []
    for _, text in loader.audit_blocks(world(), **kwargs):
        for line in text.splitlines():
            values = dict(zip(loader.AUDIT_COLUMNS, line.split("\t"), strict=True))
            values["id"] = int(values["id"])
            values["created_at"] = dt.datetime.fromisoformat(values["created_at"])
            values["user_id"] = int(values["user_id"])
            values["patient_id"] = None if values["patient_id"] == loader.NULL else int(values["patient_id"])
            values["summary"] = json.loads(values["summary"])
            rows.append(values)
    return rows


@override_settings(AUDIT_CHAIN_KEY="loader-test-key")
def test_every_generated_digest_is_row_digest_of_the_row():
    rows = audit_rows(check=False)  # no cross-check: every row is compared here
    assert [r["id"] for r in rows] == list(range(1, SCALE.audit_events + 1))
    assert {r["object_type"] for r in rows} == {k[2] for k in loader.AUDIT_KINDS}
    assert any(r["patient_id"] is None for r in rows) and any(r["summary"] for r in rows)
    prev = GENESIS_HASH
    for row in rows:
        assert row["prev_hash"] == prev
        assert row["hash"] == row_digest(row, prev), row
        prev = row["hash"]


@override_settings(AUDIT_CHAIN_KEY="loader-test-key")
def test_the_generated_trail_is_the_same_on_every_run():
    first = [text for _, text in loader.audit_blocks(world())]
    assert first == [text for _, text in loader.audit_blocks(world())]


@override_settings(AUDIT_CHAIN_KEY="loader-test-key")
def test_it_falls_back_to_row_digest_when_the_fast_path_disagrees(monkeypatch, capsys):
    def changed_format(values, prev_hash):  # as if clinic.audit changed its message format
        return row_digest({**values, "path": values["path"] + "?"}, prev_hash)

    monkeypatch.setattr(loader, "row_digest", changed_format)
    rows = audit_rows()
    prev = GENESIS_HASH
    for row in rows:
        assert row["prev_hash"] == prev
        assert row["hash"] == changed_format(row, prev)
        prev = row["hash"]
    assert "fast path differs" in capsys.readouterr().err


@pytest.mark.parametrize("username", ['nurse "01"', "nurse\\01", "nurse\u00e901"])
@override_settings(AUDIT_CHAIN_KEY="loader-test-key")
def test_names_json_would_escape_take_the_slow_path(monkeypatch, username):
    staff = [(7, username, "Nurse", 0), *STAFF[1:]]
    w = loader.make_world(SCALE, protocol_id=1, scheduler_id=1, staff=staff)
    calls = []
    monkeypatch.setattr(loader, "row_digest", lambda values, prev: calls.append(1) or row_digest(values, prev))
    blocks = loader.audit_blocks(w)
    next(blocks)
    assert len(calls) == 4096  # every row of the first block
