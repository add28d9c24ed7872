"""A counter per site for the day and week grids, and the PostgreSQL triggers that move it on
whenever something a grid shows changes:
- a session inserted or deleted, or its start, planned end, status, chair, patient or
  cancellation reason changed (the site of the old chair and of the new one);
- a ride home inserted, deleted, or its status or session changed;
- a patient's first or last name changed (every site where the patient has a session);
- a chair, an opening hours row or a closure inserted, changed or deleted (its site, old and new);
- a site's time zone changed.

SQLite (the embedded mode) has no triggers here: the grids are computed on every request there."""

import django.db.models.deletion
from django.db import migrations, models

TRIGGERS_SQL = """
CREATE OR REPLACE FUNCTION scheduling_grid_touch(p_site bigint) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO scheduling_schedulegeneration (site_id, generation) VALUES (p_site, 1)
    ON CONFLICT (site_id) DO UPDATE SET generation = scheduling_schedulegeneration.generation + 1;
$$;

CREATE OR REPLACE FUNCTION scheduling_grid_touch_chair(p_chair bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM scheduling_grid_touch(c.site_id) FROM clinic_chair c WHERE c.id = p_chair;
END
$$;

CREATE OR REPLACE FUNCTION scheduling_grid_session_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM scheduling_grid_touch_chair(OLD.chair_id);
    END IF;
    IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.chair_id IS DISTINCT FROM OLD.chair_id) THEN
        PERFORM scheduling_grid_touch_chair(NEW.chair_id);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER scheduling_grid_session_ins_del
    AFTER INSERT OR DELETE ON scheduling_session
    FOR EACH ROW EXECUTE FUNCTION scheduling_grid_session_changed();
CREATE TRIGGER scheduling_grid_session_upd
    AFTER UPDATE ON scheduling_session
    FOR EACH ROW WHEN (
        OLD.start IS DISTINCT FROM NEW.start OR OLD.planned_end IS DISTINCT FROM NEW.planned_end
        OR OLD.status IS DISTINCT FROM NEW.status OR OLD.chair_id IS DISTINCT FROM NEW.chair_id
        OR OLD.patient_id IS DISTINCT FROM NEW.patient_id OR OLD.cancel_reason IS DISTINCT FROM NEW.cancel_reason
    )
    EXECUTE FUNCTION scheduling_grid_session_changed();

CREATE OR REPLACE FUNCTION scheduling_grid_transport_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM scheduling_grid_touch_chair(s.chair_id) FROM scheduling_session s WHERE s.id = OLD.session_id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM scheduling_grid_touch_chair(s.chair_id) FROM scheduling_session s WHERE s.id = NEW.session_id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER scheduling_grid_transport_ins_del
    AFTER INSERT OR DELETE ON scheduling_transportarrangement
    FOR EACH ROW EXECUTE FUNCTION scheduling_grid_transport_changed();
CREATE TRIGGER scheduling_grid_transport_upd
    AFTER UPDATE ON scheduling_transportarrangement
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.session_id IS DISTINCT FROM NEW.session_id)
    EXECUTE FUNCTION scheduling_grid_transport_changed();

CREATE OR REPLACE FUNCTION scheduling_grid_patient_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM scheduling_grid_touch(sites.site_id) FROM (
        SELECT DISTINCT c.site_id FROM scheduling_session s JOIN clinic_chair c ON c.id = s.chair_id
        WHERE s.patient_id = NEW.id
    ) sites;
    RETURN NULL;
END
$$;
CREATE TRIGGER scheduling_grid_patient
    AFTER UPDATE ON clinic_patient
    FOR EACH ROW WHEN (OLD.first_name IS DISTINCT FROM NEW.first_name OR OLD.last_name IS DISTINCT FROM NEW.last_name)
    EXECUTE FUNCTION scheduling_grid_patient_changed();

-- Rows with a site_id column: chairs, opening hours, closures.
CREATE OR REPLACE FUNCTION scheduling_grid_site_row_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM scheduling_grid_touch(OLD.site_id);
    END IF;
    IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.site_id IS DISTINCT FROM OLD.site_id) THEN
        PERFORM scheduling_grid_touch(NEW.site_id);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER scheduling_grid_chair
    AFTER INSERT OR UPDATE OR DELETE ON clinic_chair
    FOR EACH ROW EXECUTE FUNCTION scheduling_grid_site_row_changed();
CREATE TRIGGER scheduling_grid_opening_hours
    AFTER INSERT OR UPDATE OR DELETE ON clinic_openinghours
    FOR EACH ROW EXECUTE FUNCTION scheduling_grid_site_row_changed();
CREATE TRIGGER scheduling_grid_closure
    AFTER INSERT OR UPDATE OR DELETE ON clinic_closure
    FOR EACH ROW EXECUTE FUNCTION scheduling_grid_site_row_changed();

CREATE OR REPLACE FUNCTION scheduling_grid_site_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM scheduling_grid_touch(NEW.id);
    RETURN NULL;
END
$$;
CREATE TRIGGER scheduling_grid_site
    AFTER UPDATE ON clinic_site
    FOR EACH ROW WHEN (OLD.time_zone IS DISTINCT FROM NEW.time_zone)
    EXECUTE FUNCTION scheduling_grid_site_changed();
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS scheduling_grid_session_ins_del ON scheduling_session;
DROP TRIGGER IF EXISTS scheduling_grid_session_upd ON scheduling_session;
DROP TRIGGER IF EXISTS scheduling_grid_transport_ins_del ON scheduling_transportarrangement;
DROP TRIGGER IF EXISTS scheduling_grid_transport_upd ON scheduling_transportarrangement;
DROP TRIGGER IF EXISTS scheduling_grid_patient ON clinic_patient;
DROP TRIGGER IF EXISTS scheduling_grid_chair ON clinic_chair;
DROP TRIGGER IF EXISTS scheduling_grid_opening_hours ON clinic_openinghours;
DROP TRIGGER IF EXISTS scheduling_grid_closure ON clinic_closure;
DROP TRIGGER IF EXISTS scheduling_grid_site ON clinic_site;
DROP FUNCTION IF EXISTS scheduling_grid_session_changed();
DROP FUNCTION IF EXISTS scheduling_grid_transport_changed();
DROP FUNCTION IF EXISTS scheduling_grid_patient_changed();
DROP FUNCTION IF EXISTS scheduling_grid_site_row_changed();
DROP FUNCTION IF EXISTS scheduling_grid_site_changed();
DROP FUNCTION IF EXISTS scheduling_grid_touch_chair(bigint);
DROP FUNCTION IF EXISTS scheduling_grid_touch(bigint);
"""


def install_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGERS_SQL)


def remove_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL)


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0005_audit_chain_head_function"),
        ("scheduling", "0005_default_protocols"),
    ]

    operations = [
        migrations.CreateModel(
            name="ScheduleGeneration",
            fields=[
                (
                    "site",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="clinic.site",
                    ),
                ),
                ("generation", models.PositiveBigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(install_triggers, remove_triggers),
    ]
