"""The compliance report's stored days also move on when what its last two tables show
changes, so that a day's ``generation`` names everything the report shows for that day (the
report's page is kept in each process's cache under the generations of its days):
- an adverse event inserted, changed or deleted;
- a prescriber override inserted, changed or deleted;
- a patient's MRN changed (every day of the patient's sessions: the overrides table shows it);
- a user's name changed (every day with an override by that prescriber).

Uses the functions of migration 0003. SQLite (the embedded mode) has no triggers here: the
report computes every day live there."""

from django.conf import settings
from django.db import migrations

TRIGGERS_SQL = """
CREATE TRIGGER monitoring_compliance_adverse_event
    AFTER INSERT OR UPDATE OR DELETE ON monitoring_adverseevent
    FOR EACH ROW EXECUTE FUNCTION monitoring_compliance_session_row_changed();
CREATE TRIGGER monitoring_compliance_override
    AFTER INSERT OR UPDATE OR DELETE ON monitoring_prescriberoverride
    FOR EACH ROW EXECUTE FUNCTION monitoring_compliance_session_row_changed();
CREATE TRIGGER monitoring_compliance_patient_mrn
    AFTER UPDATE ON clinic_patient
    FOR EACH ROW WHEN (OLD.mrn IS DISTINCT FROM NEW.mrn)
    EXECUTE FUNCTION monitoring_compliance_sessions_of_changed('patient_id');

CREATE OR REPLACE FUNCTION monitoring_compliance_prescriber_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM monitoring_compliance_touch_session(o.session_id)
    FROM monitoring_prescriberoverride o WHERE o.prescriber_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER monitoring_compliance_prescriber
    AFTER UPDATE ON {user_table}
    FOR EACH ROW WHEN (
        OLD.first_name IS DISTINCT FROM NEW.first_name OR OLD.last_name IS DISTINCT FROM NEW.last_name
        OR OLD.username IS DISTINCT FROM NEW.username
    )
    EXECUTE FUNCTION monitoring_compliance_prescriber_changed();
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS monitoring_compliance_adverse_event ON monitoring_adverseevent;
DROP TRIGGER IF EXISTS monitoring_compliance_override ON monitoring_prescriberoverride;
DROP TRIGGER IF EXISTS monitoring_compliance_patient_mrn ON clinic_patient;
DROP TRIGGER IF EXISTS monitoring_compliance_prescriber ON {user_table};
DROP FUNCTION IF EXISTS monitoring_compliance_prescriber_changed();
"""


def _user_table(apps, schema_editor) -> str:
    user = apps.get_model(settings.AUTH_USER_MODEL)
    return schema_editor.quote_name(user._meta.db_table)


def install_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGERS_SQL.format(user_table=_user_table(apps, schema_editor)), params=None)


def remove_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL.format(user_table=_user_table(apps, schema_editor)), params=None)


class Migration(migrations.Migration):
    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("clinic", "0005_audit_chain_head_function"),
        ("monitoring", "0005_board_generation"),
    ]

    operations = [migrations.RunPython(install_triggers, remove_triggers)]
