"""Demo antidepressant history: the demo patients booked on the treatment-resistant depression
protocol have the two adequate failed trials and the current antidepressant it requires."""

from django.contrib.auth import get_user_model

from clinic.models import Patient

from .models_outcomes import AntidepressantTrial

TRD_PATIENTS = ("MRN100002", "MRN100003", "MRN100005", "MRN100006", "MRN100009", "MRN100010")
HISTORY = (
    ("Sertraline", "150 mg a day", 8, AntidepressantTrial.Outcome.NO_RESPONSE),
    ("Venlafaxine XR", "225 mg a day", 10, AntidepressantTrial.Outcome.PARTIAL),
    ("Escitalopram", "20 mg a day", 4, AntidepressantTrial.Outcome.CURRENT),
)


def seed_history(stdout) -> None:
    prescriber = get_user_model().objects.filter(groups__name="Prescriber").order_by("pk").first()
    if prescriber is None:
        stdout.write("Demo antidepressant history skipped: no demo prescriber.")
        return
    added = 0
    for patient in Patient.objects.filter(mrn__in=TRD_PATIENTS):
        if AntidepressantTrial.objects.filter(patient=patient).exists():
            continue
        for drug, dose, weeks, outcome in HISTORY:
            AntidepressantTrial.objects.create(
                patient=patient,
                drug=drug,
                dose=dose,
                adequate_dose=True,
                weeks=weeks,
                outcome=outcome,
                recorded_by=prescriber,
            )
        added += 1
    stdout.write(f"Demo antidepressant history for {added} patients.")
