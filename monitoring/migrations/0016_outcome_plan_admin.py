from django.db import migrations

from clinic.roles import grant

PLAN_PERMS = [
    ("monitoring", "outcomeplan", "view_outcomeplan", "Can view outcome plan"),
    ("monitoring", "outcomeplan", "change_outcomeplan", "Can change outcome plan"),
]


def create(apps, schema_editor):
    """Administrators edit each protocol's measurement plan in the Django admin."""
    grant(apps, {"Administrator": PLAN_PERMS})


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0015_outcome_scores")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
