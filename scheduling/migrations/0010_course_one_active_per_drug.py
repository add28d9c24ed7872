"""One active course per patient and drug: the course carries its protocol's drug, and a
partial unique index holds at most one active course per (patient, drug).

Existing data with two active courses of one drug for a patient cannot take the index: the
migration stops and names them, so an administrator can stop one first."""

from django.db import migrations, models


def fill_drug(apps, schema_editor):
    Course = apps.get_model("scheduling", "Course")
    for course in Course.objects.select_related("protocol").only("id", "protocol__drug"):
        Course.objects.filter(pk=course.pk).update(drug=course.protocol.drug)
    doubles = (
        Course.objects.filter(status="active")
        .values("patient_id", "drug")
        .annotate(n=models.Count("id"))
        .filter(n__gt=1)
    )
    if doubles:
        listed = ", ".join(f"patient {d['patient_id']} ({d['drug']})" for d in doubles)
        raise RuntimeError(
            f"Patients with two active courses of one drug: {listed}. Set all but one of each to "
            "'stopped' or 'completed', then migrate again."
        )


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0009_protocol_dosing")]

    operations = [
        migrations.AddField(
            model_name="course",
            name="drug",
            field=models.CharField(
                choices=[("esketamine", "Esketamine nasal spray"), ("iv_ketamine", "IV ketamine")],
                default="",
                editable=False,
                max_length=20,
            ),
            preserve_default=False,
        ),
        migrations.RunPython(fill_drug, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="course",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "active")),
                fields=("patient", "drug"),
                name="course_one_active_per_drug",
            ),
        ),
    ]
