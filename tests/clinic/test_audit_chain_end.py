"""The end of the audit chain: signed checkpoints outside the audit table, an anchor kept
elsewhere (``audit_verify --expect-head``), and no production start without a chain key."""

import os
import re
import subprocess  # noqa: S404 - runs manage.py check
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from clinic.audit import audit_record
from clinic.models import AuditCheckpoint, StaffAlert
from clinic.tasks import audit_checkpoint, audit_verify_nightly

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(nurse, patient):
    return [audit_record(action="view", user=nurse, obj=patient, summary={"page": n}) for n in range(6)]


def as_owner(sql, params=None, table="clinic_auditevent"):
    """What someone holding the tables' owner role can do: lift the guard trigger and change rows."""
    trigger = f"{table}_no_update_delete"
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        cursor.execute(sql, params)
        cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")


def verify(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("audit_verify", *args, stdout=out)
    return out.getvalue()


def verify_fails(*args) -> str:
    with pytest.raises(CommandError) as excinfo:
        verify(*args)
    return str(excinfo.value)


def head_of(output: str) -> str:
    return re.search(r"Head: (\d+:[0-9a-f]{64})", output).group(1)


def test_verify_prints_the_head_and_records_a_signed_checkpoint(chain):
    head = head_of(verify())
    assert head == f"6:{chain[-1].hash}"
    checkpoint = AuditCheckpoint.objects.get()
    assert (checkpoint.count, checkpoint.head_id, checkpoint.head_hash) == (6, chain[-1].pk, chain[-1].hash)


def test_rows_cut_off_the_end_are_detected_against_the_checkpoint(chain):
    verify()
    as_owner("DELETE FROM clinic_auditevent WHERE id >= %s", [chain[4].pk])
    message = verify_fails()
    assert "rows were cut off the end" in message
    assert "saw 6 rows" in message and "now has 4" in message


def test_the_beat_checkpoint_catches_a_cut_made_before_the_next_verification(chain, nurse, patient):
    audit_checkpoint()  # beat, every few minutes
    extra = audit_record(action="view", user=nurse, obj=patient)
    audit_checkpoint()
    assert AuditCheckpoint.objects.latest().count == 7
    as_owner("DELETE FROM clinic_auditevent WHERE id = %s", [extra.pk])
    assert "rows were cut off the end" in verify_fails()
    assert audit_verify_nightly() is False
    alert = StaffAlert.objects.get(kind="audit_chain_broken")
    assert "cut off the end" in alert.message


def test_the_anchor_kept_elsewhere_catches_a_cut_even_when_checkpoints_went_too(chain):
    head = head_of(verify())
    as_owner("DELETE FROM clinic_auditevent WHERE id = %s", [chain[-1].pk])
    as_owner("DELETE FROM clinic_auditcheckpoint", table="clinic_auditcheckpoint")
    assert "Audit chain intact: 5 rows" in verify("--no-checkpoint")  # nothing inside the database shows it
    message = verify_fails("--expect-head", head)
    assert "rows were cut off the end" in message and "the expected head saw 6 rows" in message


def test_a_rewritten_end_does_not_match_the_anchor(chain, nurse, patient):
    head = head_of(verify())
    as_owner("DELETE FROM clinic_auditevent WHERE id = %s", [chain[-1].pk])
    as_owner("DELETE FROM clinic_auditcheckpoint", table="clinic_auditcheckpoint")
    audit_record(action="view", user=nurse, obj=patient, summary={"page": "replacement"})
    assert "does not have the hash the expected head recorded" in verify_fails("--expect-head", head)


def test_a_matching_anchor_passes_and_a_malformed_one_is_refused(chain):
    head = head_of(verify())
    assert "intact" in verify("--expect-head", head)
    assert "expected COUNT:HASH" in verify_fails("--expect-head", "six:abc")


def test_a_forged_checkpoint_is_a_break(chain):
    AuditCheckpoint.objects.create(count=99, head_id=None, head_hash="0" * 64, signature="f" * 64)
    assert "not signed with this AUDIT_CHAIN_KEY" in verify_fails()


def test_checkpoints_are_append_only(chain):
    from django.db import IntegrityError, InternalError, ProgrammingError, transaction

    verify()
    with pytest.raises((InternalError, ProgrammingError, IntegrityError)), transaction.atomic():
        AuditCheckpoint.objects.all().delete()
    assert AuditCheckpoint.objects.count() == 1


def test_the_checkpoint_task_is_scheduled(settings):
    assert "clinic.tasks.audit_checkpoint" in [e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()]


def _start(**extra):
    env = {
        **os.environ,
        "DEBUG": "False",
        "SECRET_KEY": "s" * 50,
        "ALLOWED_HOSTS": "clinic.example.org",
        "DJANGO_SETTINGS_MODULE": "clinic.settings",
        **extra,
    }
    check = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    wsgi = subprocess.run(  # noqa: S603
        [sys.executable, "-c", "import clinic.wsgi"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    return check, wsgi


@pytest.mark.parametrize("key", ["", "short-key"])
def test_production_refuses_to_start_without_a_long_chain_key(key):
    check, wsgi = _start(AUDIT_CHAIN_KEY=key)
    assert check.returncode != 0 and "clinic.E001" in check.stderr
    assert wsgi.returncode != 0 and "clinic.E001" in wsgi.stderr


def test_production_starts_with_a_long_chain_key():
    check, wsgi = _start(AUDIT_CHAIN_KEY="k" * 40)
    assert check.returncode == 0, check.stderr
    assert wsgi.returncode == 0, wsgi.stderr
