"""The compliance report's stored days, and the PostgreSQL triggers that mark a stored day
stale whenever something the report counts for it changes.

A change "touches" the site's local day of the session it belongs to: the day's row gets a new
``generation`` and its summary is cleared (a row is created if there was none, so a report
computing that day at the same time cannot store what it read before the change). What is
touched:
- a session inserted or deleted, or its status, start, chair or course changed (the old day
  and the new one);
- a vitals reading inserted (readings are never updated or deleted, migration 0002);
- a check-in, dose record, observation, discharge or REMS submission inserted, changed or
  deleted (the REMS record is filled in from them);
- a patient's sex or REMS enrolment changed (every day of the patient's sessions);
- a course moved to another protocol (every day of its sessions);
- a site's time zone changed (every stored day of the site).

SQLite (the embedded mode) has no triggers here: the report computes every day live there."""

import django.db.models.deletion
from django.db import migrations, models

TRIGGERS_SQL = """
CREATE OR REPLACE FUNCTION monitoring_compliance_touch(p_chair bigint, p_start timestamptz) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO monitoring_complianceday (site_id, day, generation, summary)
    SELECT c.site_id, (p_start AT TIME ZONE s.time_zone)::date, 1, NULL
    FROM clinic_chair c JOIN clinic_site s ON s.id = c.site_id
    WHERE c.id = p_chair
    ON CONFLICT (site_id, day) DO UPDATE
        SET generation = monitoring_complianceday.generation + 1, summary = NULL;
$$;

CREATE OR REPLACE FUNCTION monitoring_compliance_touch_session(p_session bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM monitoring_compliance_touch(s.chair_id, s.start) FROM scheduling_session s WHERE s.id = p_session;
END
$$;

CREATE OR REPLACE FUNCTION monitoring_compliance_session_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM monitoring_compliance_touch(OLD.chair_id, OLD.start);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM monitoring_compliance_touch(NEW.chair_id, NEW.start);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER monitoring_compliance_session_ins_del
    AFTER INSERT OR DELETE ON scheduling_session
    FOR EACH ROW EXECUTE FUNCTION monitoring_compliance_session_changed();
CREATE TRIGGER monitoring_compliance_session_upd
    AFTER UPDATE ON scheduling_session
    FOR EACH ROW WHEN (
        OLD.status IS DISTINCT FROM NEW.status OR OLD.start IS DISTINCT FROM NEW.start
        OR OLD.chair_id IS DISTINCT FROM NEW.chair_id OR OLD.course_id IS DISTINCT FROM NEW.course_id
    )
    EXECUTE FUNCTION monitoring_compliance_session_changed();

-- Rows with a session_id column: readings, observations, REMS submissions, check-ins, doses.
CREATE OR REPLACE FUNCTION monitoring_compliance_session_row_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM monitoring_compliance_touch_session(OLD.session_id);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM monitoring_compliance_touch_session(NEW.session_id);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER monitoring_compliance_reading
    AFTER INSERT ON monitoring_vitalsreading
    FOR EACH ROW EXECUTE FUNCTION monitoring_compliance_session_row_changed();
CREATE TRIGGER monitoring_compliance_observation
    AFTER INSERT OR UPDATE OR DELETE ON monitoring_observation
    FOR EACH ROW EXECUTE FUNCTION monitoring_compliance_session_row_changed();
CREATE TRIGGER monitoring_compliance_rems
    AFTER INSERT OR UPDATE OR DELETE ON monitoring_remssubmission
    FOR EACH ROW EXECUTE FUNCTION monitoring_compliance_session_row_changed();
CREATE TRIGGER monitoring_compliance_checkin
    AFTER INSERT OR UPDATE OR DELETE ON monitoring_checkin
    FOR EACH ROW EXECUTE FUNCTION monitoring_compliance_session_row_changed();
CREATE TRIGGER monitoring_compliance_dose
    AFTER INSERT OR UPDATE OR DELETE ON monitoring_doserecord
    FOR EACH ROW EXECUTE FUNCTION monitoring_compliance_session_row_changed();

-- A patient or course changed: every session whose column TG_ARGV[0] points at the row.
CREATE OR REPLACE FUNCTION monitoring_compliance_sessions_of_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format(
        'SELECT monitoring_compliance_touch(chair_id, start) FROM scheduling_session WHERE %I = $1', TG_ARGV[0]
    ) USING NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER monitoring_compliance_patient
    AFTER UPDATE ON clinic_patient
    FOR EACH ROW WHEN (
        OLD.sex IS DISTINCT FROM NEW.sex OR OLD.rems_enrollment_id IS DISTINCT FROM NEW.rems_enrollment_id
        OR OLD.rems_enrollment_date IS DISTINCT FROM NEW.rems_enrollment_date
    )
    EXECUTE FUNCTION monitoring_compliance_sessions_of_changed('patient_id');

CREATE OR REPLACE FUNCTION monitoring_compliance_discharge_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM monitoring_compliance_touch_session(o.session_id)
        FROM monitoring_observation o WHERE o.id = OLD.observation_id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM monitoring_compliance_touch_session(o.session_id)
        FROM monitoring_observation o WHERE o.id = NEW.observation_id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER monitoring_compliance_discharge
    AFTER INSERT OR UPDATE OR DELETE ON monitoring_discharge
    FOR EACH ROW EXECUTE FUNCTION monitoring_compliance_discharge_changed();

CREATE TRIGGER monitoring_compliance_course
    AFTER UPDATE ON scheduling_course
    FOR EACH ROW WHEN (OLD.protocol_id IS DISTINCT FROM NEW.protocol_id)
    EXECUTE FUNCTION monitoring_compliance_sessions_of_changed('course_id');

CREATE OR REPLACE FUNCTION monitoring_compliance_site_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE monitoring_complianceday SET generation = generation + 1, summary = NULL WHERE site_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER monitoring_compliance_site
    AFTER UPDATE ON clinic_site
    FOR EACH ROW WHEN (OLD.time_zone IS DISTINCT FROM NEW.time_zone)
    EXECUTE FUNCTION monitoring_compliance_site_changed();
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS monitoring_compliance_session_ins_del ON scheduling_session;
DROP TRIGGER IF EXISTS monitoring_compliance_session_upd ON scheduling_session;
DROP TRIGGER IF EXISTS monitoring_compliance_reading ON monitoring_vitalsreading;
DROP TRIGGER IF EXISTS monitoring_compliance_observation ON monitoring_observation;
DROP TRIGGER IF EXISTS monitoring_compliance_rems ON monitoring_remssubmission;
DROP TRIGGER IF EXISTS monitoring_compliance_checkin ON monitoring_checkin;
DROP TRIGGER IF EXISTS monitoring_compliance_dose ON monitoring_doserecord;
DROP TRIGGER IF EXISTS monitoring_compliance_patient ON clinic_patient;
DROP TRIGGER IF EXISTS monitoring_compliance_discharge ON monitoring_discharge;
DROP TRIGGER IF EXISTS monitoring_compliance_course ON scheduling_course;
DROP TRIGGER IF EXISTS monitoring_compliance_site ON clinic_site;
DROP FUNCTION IF EXISTS monitoring_compliance_session_changed();
DROP FUNCTION IF EXISTS monitoring_compliance_session_row_changed();
DROP FUNCTION IF EXISTS monitoring_compliance_discharge_changed();
DROP FUNCTION IF EXISTS monitoring_compliance_site_changed();
DROP FUNCTION IF EXISTS monitoring_compliance_sessions_of_changed();
DROP FUNCTION IF EXISTS monitoring_compliance_touch_session(bigint);
DROP FUNCTION IF EXISTS monitoring_compliance_touch(bigint, timestamptz);
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
        ("monitoring", "0002_roles_and_reading_guard"),
        ("scheduling", "0005_default_protocols"),
    ]

    operations = [
        migrations.CreateModel(
            name="ComplianceDay",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("day", models.DateField()),
                ("generation", models.PositiveIntegerField(default=0)),
                ("summary", models.JSONField(blank=True, null=True)),
                (
                    "site",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="clinic.site"
                    ),
                ),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("site", "day"), name="compliance_day_unique")],
            },
        ),
        migrations.RunPython(install_triggers, remove_triggers),
    ]
