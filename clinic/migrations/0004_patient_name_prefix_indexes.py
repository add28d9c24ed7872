"""Indexes for the patient search (clinic.selectors.patient_search), PostgreSQL only.

The search matches a prefix of the MRN, last name or first name, ignoring case: Django's
``istartswith`` is ``UPPER(col::text) LIKE UPPER('Gar%')`` there, which the plain column
indexes cannot serve, so every search read the whole patient table. These expression
indexes, with ``text_pattern_ops`` (LIKE prefixes whatever the collation), let the planner
combine the three conditions (MRN equality included) with a bitmap OR.

SQLite (the embedded default of ``make run``) gets nothing: it has no operator classes and
its LIKE is already case-insensitive."""

from django.db import migrations

COLUMNS = ("mrn", "last_name", "first_name")


def _name(column: str) -> str:
    return f"clinic_patient_upper_{column}_like"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in COLUMNS:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS {_name(column)} ON clinic_patient (UPPER("{column}"::text) text_pattern_ops)'
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS {_name(column)}")


class Migration(migrations.Migration):
    dependencies = [("clinic", "0003_audit_chain_and_report_indexes")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
