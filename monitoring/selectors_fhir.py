"""Reads of the FHIR export: a patient's sessions as ``SessionDay``s, every vitals reading
(corrected ones too, marked) and the outcome scores, in a fixed number of queries whatever
the size of the record."""

import datetime as dt

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from clinic.models import Patient

from .day import SessionDay, rems_sessions
from .models import VitalsReading, current_thresholds
from .models_outcomes import OutcomeScore


def fhir_patient(pk: int) -> Patient | None:
    return Patient.objects.filter(pk=pk).first()


def patient_days(patient: Patient, *, now: dt.datetime | None = None) -> list[SessionDay]:
    """Every session of the patient, oldest first, with its day (dose, devices, check-in,
    observation and discharge)."""
    sessions = rems_sessions().filter(patient=patient).prefetch_related("dose__devices").order_by("start", "pk")
    t, now = current_thresholds(), now or timezone.now()
    return [SessionDay(s, t=t, now=now) for s in sessions]


def patient_readings(patient: Patient, *, since=None, until=None) -> QuerySet:
    """Every reading of the patient taken in [since, until) when given, corrected ones included
    (``is_superseded``), oldest first."""
    readings = (
        VitalsReading.objects.filter(session__patient=patient)
        .select_related("session")
        .only(*READING_COLUMNS)
        .annotate(is_superseded=Exists(VitalsReading.objects.filter(supersedes=OuterRef("pk"))))
        .order_by("taken_at", "pk")
    )
    if since is not None:
        readings = readings.filter(taken_at__gte=since)
    if until is not None:
        readings = readings.filter(taken_at__lt=until)
    return readings


READING_COLUMNS = (
    "session__patient_id",
    "kind",
    "checkpoint_minute",
    "taken_at",
    "recorded_at",
    "systolic",
    "diastolic",
    "heart_rate",
    "spo2",
    "respiratory_rate",
    "moaas",
    "dissociation",
    "cadss",
    "notes",
    "supersedes_id",
    "correction_reason",
)


def patient_scores(patient: Patient, *, since=None, until=None) -> QuerySet:
    """The patient's outcome scores recorded in [since, until) when given, oldest first."""
    scores = OutcomeScore.objects.filter(patient=patient).order_by("recorded_at", "pk")
    if since is not None:
        scores = scores.filter(recorded_at__gte=since)
    if until is not None:
        scores = scores.filter(recorded_at__lt=until)
    return scores
