import pytest
from django.db import connection, transaction
from django.db.utils import InternalError, ProgrammingError

from clinic.audit import audit_record
from clinic.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE clinic_auditevent SET summary = '{}' WHERE id = %s",
        "DELETE FROM clinic_auditevent WHERE id = %s",
        "TRUNCATE clinic_auditevent CASCADE",
    ],
)
def test_the_database_refuses_to_change_audit_rows(sql, nurse):
    event = audit_record(action="view", user=nurse, object_type="patient", object_id=1)
    with pytest.raises((InternalError, ProgrammingError), match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # settle pending FK checks first
            cursor.execute(sql, [event.pk] if "%s" in sql else None)
    assert AuditEvent.objects.filter(pk=event.pk, summary={}).exists()


def test_the_orm_cannot_delete_an_audit_row(nurse):
    event = audit_record(action="view", user=nurse, object_type="patient", object_id=1)
    with pytest.raises((InternalError, ProgrammingError)):
        with transaction.atomic():
            AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_live_server_flush_still_empties_the_audit_table_between_tests(nurse):
    """The harness lifts the TRUNCATE guard for its own flush only (see conftest)."""
    audit_record(action="view", user=nurse, object_type="patient", object_id=1)
    with pytest.raises((InternalError, ProgrammingError)):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("TRUNCATE clinic_auditevent CASCADE")
