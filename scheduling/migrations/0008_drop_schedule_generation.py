"""The day and week grids are computed on every request: the schedule counter, the triggers that
moved it on (migration 0006) and their functions (0006, 0007) go. The exclusion constraints of
migration 0003 stay: they are what stops two bookings of one chair or one patient at once.

SQLite (the embedded mode) never had the triggers. Going back recreates the counter table
only: nothing reads it any more."""

from django.db import migrations

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


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0007_grid_touch_plpgsql")]

    operations = [
        migrations.RunPython(drop_triggers, migrations.RunPython.noop),
        migrations.DeleteModel(name="ScheduleGeneration"),
    ]
