"""The readings' session_id index goes: reading_session_time_idx (session_id, taken_at) leads
with the same column and serves every lookup, so the single-column index was only one more
write per reading.

Only the index is dropped. Django's own AlterField would also drop the foreign key and add it
back, which checks every reading again while writes wait."""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "monitoring_vitalsreading_session_id_e5c53779"


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0008_touch_functions_plpgsql"),
        ("scheduling", "0007_grid_touch_plpgsql"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="vitalsreading",
                    name="session",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="readings",
                        to="scheduling.session",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{INDEX}"',
                    reverse_sql=f'CREATE INDEX IF NOT EXISTS "{INDEX}" ON "monitoring_vitalsreading" ("session_id")',
                ),
            ],
        ),
    ]
