"""A counter per site for the observation board, and the PostgreSQL triggers that move it on
whenever something the board reads changes:
- a session inserted or deleted, or its status, start, chair, patient or course changed (the
  site of the old chair and of the new one);
- a ride home, check-in, observation, vitals reading or prescriber override inserted, changed
  or deleted, and a discharge through its observation (the site of the session);
- a patient's first or last name changed, or a course moved to another protocol (every site
  where the patient's or course's sessions are);
- a chair renamed or moved to another site;
- a protocol's checkpoints changed (every site).

SQLite (the embedded mode) has no triggers here: the board reads everything on every request."""

import django.db.models.deletion
from django.db import migrations, models

TRIGGERS_SQL = """
CREATE OR REPLACE FUNCTION monitoring_board_touch(p_site bigint) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO monitoring_boardgeneration (site_id, generation) VALUES (p_site, 1)
    ON CONFLICT (site_id) DO UPDATE SET generation = monitoring_boardgeneration.generation + 1;
$$;

CREATE OR REPLACE FUNCTION monitoring_board_touch_session(p_session bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM monitoring_board_touch(c.site_id)
    FROM scheduling_session s JOIN clinic_chair c ON c.id = s.chair_id WHERE s.id = p_session;
END
$$;

CREATE OR REPLACE FUNCTION monitoring_board_session_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM monitoring_board_touch(c.site_id) FROM clinic_chair c WHERE c.id = OLD.chair_id;
    END IF;
    IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.chair_id IS DISTINCT FROM OLD.chair_id) THEN
        PERFORM monitoring_board_touch(c.site_id) FROM clinic_chair c WHERE c.id = NEW.chair_id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER monitoring_board_session_ins_del
    AFTER INSERT OR DELETE ON scheduling_session
    FOR EACH ROW EXECUTE FUNCTION monitoring_board_session_changed();
CREATE TRIGGER monitoring_board_session_upd
    AFTER UPDATE ON scheduling_session
    FOR EACH ROW WHEN (
        OLD.status IS DISTINCT FROM NEW.status OR OLD.start IS DISTINCT FROM NEW.start
        OR OLD.chair_id IS DISTINCT FROM NEW.chair_id OR OLD.patient_id IS DISTINCT FROM NEW.patient_id
        OR OLD.course_id IS DISTINCT FROM NEW.course_id
    )
    EXECUTE FUNCTION monitoring_board_session_changed();

-- Rows with a session_id column: rides, check-ins, observations, readings, overrides.
CREATE OR REPLACE FUNCTION monitoring_board_session_row_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM monitoring_board_touch_session(OLD.session_id);
    END IF;
    IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.session_id IS DISTINCT FROM OLD.session_id) THEN
        PERFORM monitoring_board_touch_session(NEW.session_id);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER monitoring_board_transport
    AFTER INSERT OR UPDATE OR DELETE ON scheduling_transportarrangement
    FOR EACH ROW EXECUTE FUNCTION monitoring_board_session_row_changed();
CREATE TRIGGER monitoring_board_checkin
    AFTER INSERT OR UPDATE OR DELETE ON monitoring_checkin
    FOR EACH ROW EXECUTE FUNCTION monitoring_board_session_row_changed();
CREATE TRIGGER monitoring_board_observation
    AFTER INSERT OR UPDATE OR DELETE ON monitoring_observation
    FOR EACH ROW EXECUTE FUNCTION monitoring_board_session_row_changed();
CREATE TRIGGER monitoring_board_reading
    AFTER INSERT OR UPDATE OR DELETE ON monitoring_vitalsreading
    FOR EACH ROW EXECUTE FUNCTION monitoring_board_session_row_changed();
CREATE TRIGGER monitoring_board_override
    AFTER INSERT OR UPDATE OR DELETE ON monitoring_prescriberoverride
    FOR EACH ROW EXECUTE FUNCTION monitoring_board_session_row_changed();

CREATE OR REPLACE FUNCTION monitoring_board_discharge_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM monitoring_board_touch_session(o.session_id) FROM monitoring_observation o WHERE o.id = OLD.observation_id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM monitoring_board_touch_session(o.session_id) FROM monitoring_observation o WHERE o.id = NEW.observation_id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER monitoring_board_discharge
    AFTER INSERT OR UPDATE OR DELETE ON monitoring_discharge
    FOR EACH ROW EXECUTE FUNCTION monitoring_board_discharge_changed();

-- A patient or course changed: every site of the sessions whose column TG_ARGV[0] points at the row.
CREATE OR REPLACE FUNCTION monitoring_board_sessions_of_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format(
        'SELECT monitoring_board_touch(site_id) FROM (SELECT DISTINCT c.site_id FROM scheduling_session s '
        'JOIN clinic_chair c ON c.id = s.chair_id WHERE s.%I = $1) sites', TG_ARGV[0]
    ) USING NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER monitoring_board_patient
    AFTER UPDATE ON clinic_patient
    FOR EACH ROW WHEN (OLD.first_name IS DISTINCT FROM NEW.first_name OR OLD.last_name IS DISTINCT FROM NEW.last_name)
    EXECUTE FUNCTION monitoring_board_sessions_of_changed('patient_id');
CREATE TRIGGER monitoring_board_course
    AFTER UPDATE ON scheduling_course
    FOR EACH ROW WHEN (OLD.protocol_id IS DISTINCT FROM NEW.protocol_id)
    EXECUTE FUNCTION monitoring_board_sessions_of_changed('course_id');

CREATE OR REPLACE FUNCTION monitoring_board_chair_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM monitoring_board_touch(OLD.site_id);
    IF NEW.site_id IS DISTINCT FROM OLD.site_id THEN
        PERFORM monitoring_board_touch(NEW.site_id);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER monitoring_board_chair
    AFTER UPDATE ON clinic_chair
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.site_id IS DISTINCT FROM NEW.site_id)
    EXECUTE FUNCTION monitoring_board_chair_changed();

CREATE OR REPLACE FUNCTION monitoring_board_every_site() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM monitoring_board_touch(s.id) FROM clinic_site s;
    RETURN NULL;
END
$$;
CREATE TRIGGER monitoring_board_protocol
    AFTER UPDATE ON scheduling_protocol
    FOR EACH ROW WHEN (OLD.checkpoint_minutes IS DISTINCT FROM NEW.checkpoint_minutes)
    EXECUTE FUNCTION monitoring_board_every_site();
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS monitoring_board_session_ins_del ON scheduling_session;
DROP TRIGGER IF EXISTS monitoring_board_session_upd ON scheduling_session;
DROP TRIGGER IF EXISTS monitoring_board_transport ON scheduling_transportarrangement;
DROP TRIGGER IF EXISTS monitoring_board_checkin ON monitoring_checkin;
DROP TRIGGER IF EXISTS monitoring_board_observation ON monitoring_observation;
DROP TRIGGER IF EXISTS monitoring_board_reading ON monitoring_vitalsreading;
DROP TRIGGER IF EXISTS monitoring_board_override ON monitoring_prescriberoverride;
DROP TRIGGER IF EXISTS monitoring_board_discharge ON monitoring_discharge;
DROP TRIGGER IF EXISTS monitoring_board_patient ON clinic_patient;
DROP TRIGGER IF EXISTS monitoring_board_course ON scheduling_course;
DROP TRIGGER IF EXISTS monitoring_board_chair ON clinic_chair;
DROP TRIGGER IF EXISTS monitoring_board_protocol ON scheduling_protocol;
DROP FUNCTION IF EXISTS monitoring_board_session_changed();
DROP FUNCTION IF EXISTS monitoring_board_session_row_changed();
DROP FUNCTION IF EXISTS monitoring_board_discharge_changed();
DROP FUNCTION IF EXISTS monitoring_board_sessions_of_changed();
DROP FUNCTION IF EXISTS monitoring_board_chair_changed();
DROP FUNCTION IF EXISTS monitoring_board_every_site();
DROP FUNCTION IF EXISTS monitoring_board_touch_session(bigint);
DROP FUNCTION IF EXISTS monitoring_board_touch(bigint);
"""


def install_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGERS_SQL, params=None)  # no parameters: format()'s %I stays as written


def remove_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL)


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0005_audit_chain_head_function"),
        ("monitoring", "0004_compliance_day_valid_until"),
        ("scheduling", "0006_schedule_generation"),
    ]

    operations = [
        migrations.CreateModel(
            name="BoardGeneration",
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
