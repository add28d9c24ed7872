"""PostgreSQL guarantees no double-booking under concurrency: a chair, and a patient, hold at
most one non-cancelled session at any instant. The booking service checks first for a
friendly message; these constraints catch the race. (SQLite runs the same service check
inside an IMMEDIATE transaction instead.)"""

from django.db import migrations

FORWARD = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE scheduling_session ADD CONSTRAINT session_chair_no_overlap
    EXCLUDE USING gist (chair_id WITH =, tstzrange(start, planned_end, '[)') WITH &&)
    WHERE (status <> 'cancelled');
ALTER TABLE scheduling_session ADD CONSTRAINT session_patient_no_overlap
    EXCLUDE USING gist (patient_id WITH =, tstzrange(start, planned_end, '[)') WITH &&)
    WHERE (status <> 'cancelled');
"""
REVERSE = """
ALTER TABLE scheduling_session DROP CONSTRAINT IF EXISTS session_chair_no_overlap;
ALTER TABLE scheduling_session DROP CONSTRAINT IF EXISTS session_patient_no_overlap;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def reverse(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REVERSE)


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0002_roles")]

    operations = [migrations.RunPython(forward, reverse)]
