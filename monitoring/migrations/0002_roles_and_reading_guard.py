from django.db import migrations

from clinic.roles import grant


def perm(codename, name, model="observation"):
    return ("monitoring", model, codename, name)


VIEW_BOARD = perm("view_board", "Can view the observation board and session day")
RECORD_VITALS = perm("record_vitals", "Can check in, record vitals, doses, adverse events and discharge")
OVERRIDE = perm("override_block", "Can override a pre-dose or discharge vitals block")
VIEW_REPORTS = perm("view_reports", "Can view compliance reports and REMS records")
SUBMIT_REMS = perm("submit_rems", "Can record that a REMS monitoring form was submitted")
THRESHOLDS = [
    perm("view_clinicalthresholds", "Can view clinical thresholds", "clinicalthresholds"),
    perm("change_clinicalthresholds", "Can change clinical thresholds", "clinicalthresholds"),
]


def create(apps, schema_editor):
    grant(
        apps,
        {
            "Scheduler": [VIEW_BOARD],
            "Nurse": [VIEW_BOARD, RECORD_VITALS],
            "Prescriber": [VIEW_BOARD, RECORD_VITALS, OVERRIDE],
            "Administrator": [VIEW_BOARD, VIEW_REPORTS, SUBMIT_REMS, *THRESHOLDS],
        },
    )
    apps.get_model("monitoring", "ClinicalThresholds").objects.get_or_create(pk=1)


# Vitals readings are append-only: a correction is a new row, so the database refuses
# UPDATE and DELETE outright.
GUARD_SQL = """
CREATE OR REPLACE FUNCTION monitoring_reading_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING
        MESSAGE = 'vitals readings are never changed or deleted (' || TG_OP || ' refused); record a correction',
        ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER monitoring_vitalsreading_no_update_delete
    BEFORE UPDATE OR DELETE ON monitoring_vitalsreading
    FOR EACH ROW EXECUTE FUNCTION monitoring_reading_append_only();
"""
GUARD_REVERSE_SQL = """
DROP TRIGGER IF EXISTS monitoring_vitalsreading_no_update_delete ON monitoring_vitalsreading;
DROP FUNCTION IF EXISTS monitoring_reading_append_only();
"""


def install_guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(GUARD_SQL)


def remove_guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(GUARD_REVERSE_SQL)


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0001_initial"), ("clinic", "0002_roles_and_audit_guard")]

    operations = [
        migrations.RunPython(create, migrations.RunPython.noop),
        migrations.RunPython(install_guard, remove_guard),
    ]
