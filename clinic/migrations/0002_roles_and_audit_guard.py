from django.db import migrations

from clinic.roles import grant

CLINIC_PERMS = {
    "Scheduler": [
        ("clinic", "patient", "view_patient", "Can view patient"),
        ("clinic", "patient", "manage_patients", "Can register and edit patients"),
    ],
    "Nurse": [("clinic", "patient", "view_patient", "Can view patient")],
    "Prescriber": [("clinic", "patient", "view_patient", "Can view patient")],
    "Administrator": [
        ("clinic", "patient", "view_patient", "Can view patient"),
        ("clinic", "patient", "manage_patients", "Can register and edit patients"),
        ("clinic", "auditevent", "view_auditevent", "Can view audit event"),
        ("clinic", "outboxmessage", "view_outboxmessage", "Can view outbox message"),
        *[
            ("clinic", model, f"{verb}_{model}", f"Can {verb} {model}")
            for model in ("site", "chair", "openinghours", "closure")
            for verb in ("view", "add", "change", "delete")
        ],
        *[("auth", "user", f"{verb}_user", f"Can {verb} user") for verb in ("view", "add", "change")],
        ("auth", "group", "view_group", "Can view group"),
    ],
}


def create_roles(apps, schema_editor):
    grant(apps, CLINIC_PERMS)


# The audit trail is append-only: the database itself refuses to change or remove rows.
AUDIT_GUARD_SQL = """
CREATE OR REPLACE FUNCTION clinic_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING
        MESSAGE = 'audit events are append-only (' || TG_OP || ' refused)',
        ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER clinic_auditevent_no_update_delete
    BEFORE UPDATE OR DELETE ON clinic_auditevent
    FOR EACH ROW EXECUTE FUNCTION clinic_audit_append_only();
CREATE TRIGGER clinic_auditevent_no_truncate
    BEFORE TRUNCATE ON clinic_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION clinic_audit_append_only();
"""
AUDIT_GUARD_REVERSE_SQL = """
DROP TRIGGER IF EXISTS clinic_auditevent_no_update_delete ON clinic_auditevent;
DROP TRIGGER IF EXISTS clinic_auditevent_no_truncate ON clinic_auditevent;
DROP FUNCTION IF EXISTS clinic_audit_append_only();
"""


def install_audit_guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(AUDIT_GUARD_SQL)


def remove_audit_guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(AUDIT_GUARD_REVERSE_SQL)


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(create_roles, migrations.RunPython.noop),
        migrations.RunPython(install_audit_guard, remove_audit_guard),
    ]
