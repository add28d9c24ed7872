"""The three protocols the clinic ships with (DOMAIN.md "Treatment protocols"). Every number
is a default an administrator can change in the admin.

Session length = dosing + 120 minutes observation + turnover (cleaning the chair)."""

from decimal import Decimal

from django.db import migrations

ESKETAMINE_MINUTES = {"dosing_minutes": 15, "observation_minutes": 120, "turnover_minutes": 30}
IV_MINUTES = {"dosing_minutes": 40, "observation_minutes": 120, "turnover_minutes": 20}

PROTOCOLS = [
    {
        "slug": "esketamine-trd",
        "name": "Esketamine: treatment-resistant depression",
        "drug": "esketamine",
        "indication": "Treatment-resistant depression",
        "requires_rems": True,
        "checkpoint_minutes": [40],
        "notes": "First dose 56 mg, then 56 or 84 mg. From week 9: every 2 weeks or weekly, the least "
        "frequent that keeps the response.",
        "phases": [
            {"name": "Induction (weeks 1-4)", "weeks": 4, "sessions_per_week": 2, "dose": "56", **ESKETAMINE_MINUTES},
            {"name": "Weekly (weeks 5-8)", "weeks": 4, "sessions_per_week": 1, "dose": "56", **ESKETAMINE_MINUTES},
            {
                "name": "Maintenance (every 2 weeks)",
                "weeks": 16,
                "sessions_per_week": 1,
                "interval_weeks": 2,
                "dose": "56",
                **ESKETAMINE_MINUTES,
            },
        ],
    },
    {
        "slug": "esketamine-mdsi",
        "name": "Esketamine: depression with acute suicidal ideation",
        "drug": "esketamine",
        "indication": "Major depressive disorder with acute suicidal ideation or behaviour",
        "requires_rems": True,
        "checkpoint_minutes": [40],
        "notes": "84 mg twice weekly for 4 weeks (56 mg if not tolerated). Not studied past week 4: review "
        "with the prescriber.",
        "phases": [
            {"name": "Twice weekly (weeks 1-4)", "weeks": 4, "sessions_per_week": 2, "dose": "84", **ESKETAMINE_MINUTES},
        ],
    },
    {
        "slug": "iv-ketamine",
        "name": "IV ketamine (off-label)",
        "drug": "iv_ketamine",
        "indication": "Treatment-resistant depression (off-label)",
        "requires_rems": False,
        "checkpoint_minutes": [40],
        "notes": "0.5 mg/kg over 40 minutes. The planned dose assumes 70 kg: adjust it to the patient's weight.",
        "phases": [
            {"name": "Induction (6 infusions)", "sessions": 6, "sessions_per_week": 3, "dose": "35", **IV_MINUTES},
            {"name": "Taper: weekly", "weeks": 2, "sessions_per_week": 1, "dose": "35", **IV_MINUTES},
            {"name": "Taper: every 2 weeks", "sessions": 1, "interval_weeks": 2, "dose": "35", **IV_MINUTES},
            {"name": "Taper: every 3 weeks", "sessions": 1, "interval_weeks": 3, "dose": "35", **IV_MINUTES},
            {"name": "Taper: every 4 weeks", "sessions": 1, "interval_weeks": 4, "dose": "35", **IV_MINUTES},
        ],
    },
]


def create(apps, schema_editor):
    Protocol = apps.get_model("scheduling", "Protocol")
    ProtocolPhase = apps.get_model("scheduling", "ProtocolPhase")
    for spec in PROTOCOLS:
        spec = dict(spec)
        phases = spec.pop("phases")
        protocol, created = Protocol.objects.get_or_create(slug=spec["slug"], defaults=spec)
        if not created:
            continue
        for order, phase in enumerate(phases, start=1):
            phase = dict(phase)
            ProtocolPhase.objects.create(
                protocol=protocol,
                order=order,
                name=phase.pop("name"),
                default_dose_mg=Decimal(phase.pop("dose")),
                sessions_per_week=phase.pop("sessions_per_week", 1),
                min_days_between=2,
                **phase,
            )


def remove(apps, schema_editor):
    Protocol = apps.get_model("scheduling", "Protocol")
    Protocol.objects.filter(slug__in=[p["slug"] for p in PROTOCOLS], courses__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0004_session_replaces")]

    operations = [migrations.RunPython(create, remove)]
