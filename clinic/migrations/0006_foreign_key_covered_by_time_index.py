"""The audit trail's patient_id index goes: audit_patient_time_idx (patient_id, created_at, id)
leads with the same column and serves every lookup, so the single-column index was only one
more write on every audited page.

Only the index is dropped. Django's own AlterField would also drop the foreign key and add it
back, which checks every row of the trail again while writes wait."""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "clinic_auditevent_patient_id_bc338fe1"


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0005_audit_chain_head_function"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="auditevent",
                    name="patient",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="clinic.patient",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{INDEX}"',
                    reverse_sql=f'CREATE INDEX IF NOT EXISTS "{INDEX}" ON "clinic_auditevent" ("patient_id")',
                ),
            ],
        ),
    ]
