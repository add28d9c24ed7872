"""The observation board's generation counter and the compliance report's stored days go, with
every trigger and function that kept them (migrations 0003 and 0005-0008). The pages read the
live rows instead. The guard trigger of 0002 (readings are append-only) stays."""

from django.db import migrations

# (trigger, table) installed by 0003, 0005, 0006 and 0007.
TRIGGERS = (
    ("monitoring_board_alert", "clinic_staffalert"),
    ("monitoring_board_chair", "clinic_chair"),
    ("monitoring_board_discharge", "monitoring_discharge"),
    ("monitoring_board_protocol", "scheduling_protocol"),
    ("monitoring_board_session_ins_del", "scheduling_session"),
    ("monitoring_board_session_upd", "scheduling_session"),
    ("monitoring_board_checkin", "monitoring_checkin"),
    ("monitoring_board_observation", "monitoring_observation"),
    ("monitoring_board_override", "monitoring_prescriberoverride"),
    ("monitoring_board_reading", "monitoring_vitalsreading"),
    ("monitoring_board_transport", "scheduling_transportarrangement"),
    ("monitoring_board_course", "scheduling_course"),
    ("monitoring_board_patient", "clinic_patient"),
    ("monitoring_compliance_discharge", "monitoring_discharge"),
    ("monitoring_compliance_prescriber", "auth_user"),
    ("monitoring_compliance_session_ins_del", "scheduling_session"),
    ("monitoring_compliance_session_upd", "scheduling_session"),
    ("monitoring_compliance_adverse_event", "monitoring_adverseevent"),
    ("monitoring_compliance_checkin", "monitoring_checkin"),
    ("monitoring_compliance_dose", "monitoring_doserecord"),
    ("monitoring_compliance_observation", "monitoring_observation"),
    ("monitoring_compliance_override", "monitoring_prescriberoverride"),
    ("monitoring_compliance_reading", "monitoring_vitalsreading"),
    ("monitoring_compliance_rems", "monitoring_remssubmission"),
    ("monitoring_compliance_course", "scheduling_course"),
    ("monitoring_compliance_patient", "clinic_patient"),
    ("monitoring_compliance_patient_mrn", "clinic_patient"),
    ("monitoring_compliance_site", "clinic_site"),
)
FUNCTIONS = (
    "monitoring_board_alert_changed()",
    "monitoring_board_chair_changed()",
    "monitoring_board_discharge_changed()",
    "monitoring_board_every_site()",
    "monitoring_board_session_changed()",
    "monitoring_board_session_row_changed()",
    "monitoring_board_sessions_of_changed()",
    "monitoring_board_touch(bigint)",
    "monitoring_board_touch_session(bigint)",
    "monitoring_compliance_discharge_changed()",
    "monitoring_compliance_prescriber_changed()",
    "monitoring_compliance_session_changed()",
    "monitoring_compliance_session_row_changed()",
    "monitoring_compliance_sessions_of_changed()",
    "monitoring_compliance_site_changed()",
    "monitoring_compliance_touch(bigint, timestamp with time zone)",
    "monitoring_compliance_touch_session(bigint)",
)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite never had them
    for trigger, table in TRIGGERS:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
    for function in FUNCTIONS:
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {function}")


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0009_foreign_key_covered_by_time_index"),
    ]

    operations = [
        # Nothing to restore going back: the counters and stored days were caches.
        migrations.RunPython(drop_triggers, migrations.RunPython.noop, elidable=True),
        migrations.DeleteModel(name="BoardGeneration"),
        migrations.DeleteModel(name="ComplianceDay"),
    ]
