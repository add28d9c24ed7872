"""The function that moves a site's schedule counter is written in PL/pgSQL instead of SQL:
PostgreSQL keeps a PL/pgSQL function's plan for the life of the connection, while it planned
the SQL one again at every call, from every trigger. Same statement, same result.

SQLite (the embedded mode) has no triggers here."""

from django.db import migrations

PLPGSQL = """
CREATE OR REPLACE FUNCTION scheduling_grid_touch(p_site bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO scheduling_schedulegeneration (site_id, generation) VALUES (p_site, 1)
    ON CONFLICT (site_id) DO UPDATE SET generation = scheduling_schedulegeneration.generation + 1;
END
$$;
"""

SQL = """
CREATE OR REPLACE FUNCTION scheduling_grid_touch(p_site bigint) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO scheduling_schedulegeneration (site_id, generation) VALUES (p_site, 1)
    ON CONFLICT (site_id) DO UPDATE SET generation = scheduling_schedulegeneration.generation + 1;
$$;
"""


def to_plpgsql(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PLPGSQL, params=None)


def to_sql(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0006_schedule_generation")]

    operations = [migrations.RunPython(to_plpgsql, to_sql)]
