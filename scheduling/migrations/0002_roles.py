from django.db import migrations

from clinic.roles import grant

VIEW = ("scheduling", "session", "view_schedule", "Can view the schedule")
BOOK = ("scheduling", "session", "book_session", "Can book, move and cancel sessions")


def admin_perms():
    return [
        ("scheduling", model, f"{verb}_{model}", f"Can {verb} {model}")
        for model in ("protocol", "protocolphase")
        for verb in ("view", "add", "change", "delete")
    ] + [("scheduling", "session", "view_session", "Can view session")]


def create(apps, schema_editor):
    grant(
        apps,
        {
            "Scheduler": [VIEW, BOOK],
            "Nurse": [VIEW],
            "Prescriber": [VIEW],
            "Administrator": [VIEW, BOOK, *admin_perms()],
        },
    )


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0001_initial"), ("clinic", "0002_roles_and_audit_guard")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
