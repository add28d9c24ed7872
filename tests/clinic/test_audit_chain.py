"""Tamper evidence: the audit trail's hash chain and `manage.py audit_verify`."""

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.urls import reverse

from clinic.audit import GENESIS_HASH, audit_chain_verify, audit_record
from clinic.models import AuditEvent, StaffAlert
from clinic.tasks import audit_verify_nightly

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(nurse, patient):
    """Five chained rows, oldest first."""
    return [audit_record(action="view", user=nurse, obj=patient, summary={"page": n, "note": "é"}) for n in range(5)]


def as_owner(sql, params=None):
    """Tamper with the table as its owner would: lift the append-only trigger for one statement."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE clinic_auditevent DISABLE TRIGGER clinic_auditevent_no_update_delete")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE clinic_auditevent ENABLE TRIGGER clinic_auditevent_no_update_delete")


def verify_output():
    with pytest.raises(CommandError) as excinfo:
        call_command("audit_verify", batch_size=2)
    return str(excinfo.value)


def test_it_links_each_row_to_the_one_before(chain):
    assert chain[0].prev_hash == GENESIS_HASH
    for before, after in zip(chain, chain[1:], strict=False):
        assert after.prev_hash == before.hash
    assert len({event.hash for event in chain}) == 5


def test_it_reports_an_intact_chain_with_the_count(chain, capsys):
    call_command("audit_verify", batch_size=2)  # batches smaller than the table
    out = capsys.readouterr().out
    assert "intact: 5 rows verified" in out


def test_it_detects_an_edited_row(chain):
    as_owner("UPDATE clinic_auditevent SET username = 'someone_else' WHERE id = %s", [chain[2].pk])
    message = verify_output()
    assert f"row id {chain[2].pk}" in message
    assert "changed after it was written" in message


def test_it_detects_an_edited_summary(chain):
    as_owner("""UPDATE clinic_auditevent SET summary = '{"page": 99}' WHERE id = %s""", [chain[3].pk])
    assert f"row id {chain[3].pk}" in verify_output()


def test_it_detects_a_deleted_row(chain):
    as_owner("DELETE FROM clinic_auditevent WHERE id = %s", [chain[1].pk])
    message = verify_output()
    assert f"row id {chain[2].pk}" in message
    assert "removed" in message


def test_it_detects_a_deleted_first_row(chain):
    as_owner("DELETE FROM clinic_auditevent WHERE id = %s", [chain[0].pk])
    assert f"row id {chain[1].pk}" in verify_output()


def test_it_detects_two_swapped_rows(chain):
    """Swap everything but the ids (the order of the trail) of rows 1 and 3, hashes included."""
    a, b = chain[1].pk, chain[3].pk
    columns = ["created_at", "user_id", "username", "action", "object_id", "summary", "prev_hash", "hash"]
    assignments = ", ".join(f"{c} = other.{c}" for c in columns)
    as_owner(
        f"UPDATE clinic_auditevent AS t SET {assignments} FROM clinic_auditevent AS other "  # noqa: S608
        "WHERE (t.id, other.id) IN ((%s, %s), (%s, %s))",
        [a, b, b, a],
    )
    assert f"row id {a}" in verify_output()


def test_it_detects_a_row_inserted_outside_the_chain(chain, nurse):
    AuditEvent.objects.create(user=nurse, username="nurse", action="view", object_type="patient")
    assert "outside the audit chain" in verify_output()


def test_the_nightly_task_raises_one_administrator_alert_on_a_break(chain):
    assert audit_verify_nightly() is True
    assert not StaffAlert.objects.exists()
    as_owner("UPDATE clinic_auditevent SET action = 'update' WHERE id = %s", [chain[4].pk])
    assert audit_verify_nightly() is False
    assert audit_verify_nightly() is False
    alert = StaffAlert.objects.get()
    assert (alert.audience, alert.severity, alert.kind) == ("administrator", "critical", "audit_chain_broken")
    assert str(chain[4].pk) in alert.message


def test_the_nightly_task_is_scheduled(settings):
    entries = [entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()]
    assert "clinic.tasks.audit_verify_nightly" in entries


def test_an_empty_trail_verifies():
    report = audit_chain_verify()
    assert report.intact and report.count == 0


def _edit_form(patient, **changes) -> dict:
    """The patient edit form as the page posts it, with ``changes``."""
    return {
        "mrn": patient.mrn,
        "first_name": patient.first_name,
        "last_name": patient.last_name,
        "date_of_birth": "1980-05-17",
        "sex": "F",
        "phone": "+12125550142",
        "email": patient.email,
        "preferred_channel": "sms",
        "site": patient.site_id,
        "rems_enrollment_id": patient.rems_enrollment_id,
        "rems_enrollment_date": "2026-01-10",
        "escorts-TOTAL_FORMS": "0",
        "escorts-INITIAL_FORMS": "0",
        **changes,
    }


def test_a_failed_audit_write_rolls_back_the_change_it_describes(administrator, patient, client_for):
    """The database refuses the audit row: the patient edit it describes is not kept."""
    client = client_for(administrator)
    client.raise_request_exception = False
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION pg_temp.refuse_audit() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'audit store unavailable'; END; $$ LANGUAGE plpgsql"
        )
        cursor.execute(
            "CREATE TRIGGER refuse_audit_insert BEFORE INSERT ON clinic_auditevent "
            "FOR EACH ROW EXECUTE FUNCTION pg_temp.refuse_audit()"
        )
    form = _edit_form(patient, first_name="Changed")
    response = client.post(reverse("clinic:patient-edit", args=[patient.pk]), form)
    assert response.status_code == 500
    patient.refresh_from_db()
    assert patient.first_name == "Pat"


def test_concurrent_writers_keep_one_chain(nurse):
    """Appends inside one outer transaction and in savepoints that roll back still chain."""
    audit_record(action="view", user=nurse, object_type="patient")
    try:
        with transaction.atomic():
            audit_record(action="view", user=nurse, object_type="patient")
            raise RuntimeError
    except RuntimeError:
        pass
    audit_record(action="view", user=nurse, object_type="patient")
    assert audit_chain_verify().intact


@pytest.mark.django_db(transaction=True)
def test_writers_in_parallel_transactions_extend_one_chain(nurse):
    """Eight connections append at once, each holding its transaction open a moment after its
    write: every append waits for the lock and then reads the head the previous writer
    committed, so no two rows share a previous hash and the chain verifies."""
    import threading
    import time

    writers, rounds = 8, 5
    barrier = threading.Barrier(writers)
    errors: list[Exception] = []

    def write(i):
        try:
            barrier.wait()
            for n in range(rounds):
                with transaction.atomic():
                    audit_record(action="view", user=nurse, object_type="patient", summary={"writer": i, "n": n})
                    time.sleep(0.005)
        except Exception as exc:  # noqa: BLE001  (any error fails the test below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert not errors, errors
    rows = list(AuditEvent.objects.filter(summary__has_key="writer").order_by("id").values_list("prev_hash", "hash"))
    assert len(rows) == writers * rounds
    prev_hashes = list(AuditEvent.objects.values_list("prev_hash", flat=True))
    assert len(prev_hashes) == len(set(prev_hashes))
    assert audit_chain_verify().intact


def _commit_modes(send):
    """Run ``send()`` and return, for each audit row it wrote, the synchronous_commit setting
    of its transaction right after the write (read on the driver's connection directly)."""
    modes = []

    def spy(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.replace('"', "").startswith("INSERT INTO clinic_auditevent"):
            with context["connection"].connection.cursor() as raw:
                raw.execute("SELECT current_setting('synchronous_commit')")
                modes.append(raw.fetchone()[0])
        return result

    with connection.execute_wrapper(spy):
        response = send()
    return response, modes


@pytest.mark.django_db(transaction=True)
def test_a_page_view_commits_its_audit_row_without_waiting_for_the_disk_and_a_change_waits(
    administrator, patient, client_for, settings
):
    client = client_for(administrator)
    response, modes = _commit_modes(lambda: client.get(reverse("clinic:patient-list"), {"q": patient.last_name}))
    assert response.status_code == 200 and modes == ["off"]
    assert AuditEvent.objects.filter(action="view", object_type="patient_list").count() == 1

    form = _edit_form(patient, first_name="Changed")
    response, modes = _commit_modes(lambda: client.post(reverse("clinic:patient-edit", args=[patient.pk]), form))
    assert response.status_code == 302 and modes and set(modes) == {"on"}
    patient.refresh_from_db()
    assert patient.first_name == "Changed"

    # A clinic that wants every view row flushed before the page is sent says so.
    settings.AUDIT_VIEW_SYNCHRONOUS_COMMIT = True
    response, modes = _commit_modes(lambda: client.get(reverse("clinic:patient-detail", args=[patient.pk])))
    assert response.status_code == 200 and modes == ["on"]
    assert audit_chain_verify().intact


@pytest.mark.django_db(transaction=True)
def test_a_view_row_in_a_transaction_that_changed_data_waits_for_the_disk(nurse, patient):
    from django.test import RequestFactory

    request = RequestFactory().get(reverse("clinic:patient-detail", args=[patient.pk]))
    request.user = nurse

    def view_after_change():
        with transaction.atomic():
            audit_record(action="update", user=nurse, obj=patient)
            audit_record(action="view", request=request, obj=patient)

    def view_alone():
        with transaction.atomic():
            audit_record(action="view", request=request, obj=patient)

    assert _commit_modes(view_after_change)[1] == ["on", "on"]
    assert _commit_modes(view_alone)[1] == ["off"]
    # A view row with no request (a task, a command) is not a page being read.
    assert _commit_modes(lambda: audit_record(action="view", user=nurse, obj=patient))[1] == ["on"]
    assert AuditEvent.objects.count() == 4 and audit_chain_verify().intact
