"""PostgreSQL: one function that takes the audit chain's append lock and returns the hash of
the last row, so an append is two round trips (this call, then the INSERT) instead of three.

The function is VOLATILE: in READ COMMITTED each statement inside it takes a fresh snapshot,
so the head it reads after the lock is granted includes the row of the writer that held the
lock before. (A single ``SELECT pg_advisory_xact_lock(...), (SELECT hash ...)`` would read the
head with the snapshot taken before waiting for the lock, and fork the chain.)"""

from django.db import migrations

HEAD_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION clinic_audit_chain_head(lock_key bigint) RETURNS varchar
VOLATILE LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    RETURN (SELECT hash FROM clinic_auditevent ORDER BY id DESC LIMIT 1);
END
$$;
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(HEAD_FUNCTION_SQL)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS clinic_audit_chain_head(bigint)")


class Migration(migrations.Migration):
    dependencies = [("clinic", "0004_patient_name_prefix_indexes")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
