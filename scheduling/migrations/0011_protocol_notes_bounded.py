"""Protocol notes hold at most 2,000 characters, in forms and in the database."""

import django.db.models.functions.text
import django.db.models.lookups
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('scheduling', '0010_course_one_active_per_drug'),
    ]

    operations = [
        migrations.AlterField(
            model_name='protocol',
            name='notes',
            field=models.TextField(blank=True, max_length=2000),
        ),
        migrations.AddConstraint(
            model_name='protocol',
            constraint=models.CheckConstraint(condition=django.db.models.lookups.LessThanOrEqual(django.db.models.functions.text.Length('notes'), 2000), name='protocol_notes_max_length'),
        ),
    ]
