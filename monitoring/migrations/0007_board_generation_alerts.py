"""The observation board also moves on when a staff alert is raised, acknowledged or removed
(the site of the alert; every site for an alert without one), so its panel of open alerts is
kept with the rest of the board's facts.

Uses the function of migration 0005. SQLite (the embedded mode) has no triggers here: the
board reads everything on every request there."""

from django.db import migrations

TRIGGERS_SQL = """
CREATE OR REPLACE FUNCTION monitoring_board_alert_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    row_site bigint;
BEGIN
    FOREACH row_site IN ARRAY (
        CASE TG_OP WHEN 'INSERT' THEN ARRAY[NEW.site_id] WHEN 'DELETE' THEN ARRAY[OLD.site_id]
        ELSE ARRAY[OLD.site_id, NEW.site_id] END
    ) LOOP
        IF row_site IS NULL THEN
            PERFORM monitoring_board_touch(s.id) FROM clinic_site s;
        ELSE
            PERFORM monitoring_board_touch(row_site);
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
CREATE TRIGGER monitoring_board_alert
    AFTER INSERT OR UPDATE OR DELETE ON clinic_staffalert
    FOR EACH ROW EXECUTE FUNCTION monitoring_board_alert_changed();
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS monitoring_board_alert ON clinic_staffalert;
DROP FUNCTION IF EXISTS monitoring_board_alert_changed();
"""


def install_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGERS_SQL, params=None)


def remove_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0005_audit_chain_head_function"),
        ("monitoring", "0006_compliance_day_events_and_overrides"),
    ]

    operations = [migrations.RunPython(install_triggers, remove_triggers)]
