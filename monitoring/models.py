"""The session day: check-in, pre-dose checks, dose record, observation with vitals,
adverse events, discharge and the REMS monitoring record submission.

Readings are append-only: a correction is a new row that supersedes the old one."""

import dataclasses

from django.conf import settings
from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone
from django.utils.translation import gettext_lazy

from clinic.fields import CharField, TextField
from clinic.formats import when
from scheduling.models import Drug, Session

from . import rules

D = rules.DEFAULTS
NOTE_MAX = 2000  # characters of a free-text note


def bounded(field: str, table: str) -> models.CheckConstraint:
    """The database's own limit on a free-text column (a TextField's max_length is only checked
    by forms)."""
    return models.CheckConstraint(condition=LessThanOrEqual(Length(field), NOTE_MAX), name=f"{table}_{field}_bounded")


def default_checkpoint_minutes():
    return list(D.default_checkpoint_minutes)


THRESHOLDS_ID = 1  # the primary key of the one ClinicalThresholds row


class ClinicalThresholds(models.Model):
    """The clinic's clinical numbers. One row (pk=THRESHOLDS_ID), edited by an administrator in Django
    admin; code reads it through ``ClinicalThresholds.current()`` and ``as_rules()``."""

    predose_systolic_max = models.PositiveSmallIntegerField(
        "pre-dose systolic limit (mmHg)", default=D.predose_systolic_max, help_text="Dosing is blocked above this."
    )
    predose_diastolic_max = models.PositiveSmallIntegerField(
        "pre-dose diastolic limit (mmHg)", default=D.predose_diastolic_max, help_text="Dosing is blocked above this."
    )
    systolic_high = models.PositiveSmallIntegerField("alert: systolic at or above", default=D.systolic_high)
    diastolic_high = models.PositiveSmallIntegerField("alert: diastolic at or above", default=D.diastolic_high)
    spo2_low = models.PositiveSmallIntegerField("alert: SpO2 at or below (warning)", default=D.spo2_low)
    spo2_critical = models.PositiveSmallIntegerField("alert: SpO2 at or below (critical)", default=D.spo2_critical)
    respiratory_rate_low = models.PositiveSmallIntegerField(
        "alert: respiratory rate at or below", default=D.respiratory_rate_low
    )
    respiratory_rate_high = models.PositiveSmallIntegerField(
        "alert: respiratory rate at or above", default=D.respiratory_rate_high
    )
    heart_rate_low = models.PositiveSmallIntegerField("alert: heart rate at or below", default=D.heart_rate_low)
    heart_rate_high = models.PositiveSmallIntegerField("alert: heart rate at or above", default=D.heart_rate_high)
    moaas_low = models.PositiveSmallIntegerField("alert: MOAA/S at or below", default=D.moaas_low)
    checkpoint_grace_minutes = models.PositiveSmallIntegerField(
        default=D.checkpoint_grace_minutes, help_text="A checkpoint becomes overdue this long after it is due."
    )
    observation_minimum_minutes = models.PositiveSmallIntegerField(
        default=D.observation_minimum_minutes, help_text="Minimum observation from the first device to discharge."
    )
    device_mg = models.PositiveSmallIntegerField("esketamine mg per device", default=D.device_mg)
    device_rest_minutes = models.PositiveSmallIntegerField(
        "rest between devices (minutes)", default=D.device_rest_minutes
    )
    default_checkpoint_minutes = models.JSONField(
        default=default_checkpoint_minutes,
        help_text="Checkpoints after dosing (minutes) when the protocol sets none, e.g. [40].",
    )
    rems_window_days = models.PositiveSmallIntegerField("REMS record due within (days)", default=D.rems_window_days)
    rems_warning_day = models.PositiveSmallIntegerField(
        "REMS reminder on day", default=D.rems_warning_day, help_text="Administrators are alerted from this day on."
    )
    late_entry_window_minutes = models.PositiveSmallIntegerField(
        "late-entry window (minutes)",
        default=D.late_entry_window_minutes,
        help_text="A nurse may enter a clinical time this far before now; it is marked as a late entry.",
    )
    checkin_window_minutes = models.PositiveSmallIntegerField(
        "check-in opens (minutes before the session)",
        default=D.checkin_window_minutes,
        help_text="Check-in is possible from this long before the session starts, on the session's day.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "clinical thresholds"
        verbose_name_plural = "clinical thresholds"
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=THRESHOLDS_ID), name="clinical_thresholds_singleton"),
            models.CheckConstraint(
                condition=models.Q(spo2_critical__lte=models.F("spo2_low")), name="thresholds_spo2_critical_le_low"
            ),
        ]

    def __str__(self):
        return "Clinical thresholds"

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)

    @classmethod
    def current(cls) -> "ClinicalThresholds":
        obj, _ = cls.objects.get_or_create(pk=THRESHOLDS_ID)
        return obj

    def as_rules(self) -> rules.Thresholds:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(rules.Thresholds)}
        values["default_checkpoint_minutes"] = tuple(int(m) for m in self.default_checkpoint_minutes or ())
        return rules.Thresholds(**values)


def stored_thresholds() -> rules.Thresholds | None:
    """The administrator's thresholds as rules read them, or None when the row does not exist
    yet (a report never creates it)."""
    row = ClinicalThresholds.objects.filter(pk=THRESHOLDS_ID).first()
    return row.as_rules() if row else None


def current_thresholds() -> rules.Thresholds:
    """The thresholds in force, the row created with the defaults when there is none yet."""
    return stored_thresholds() or ClinicalThresholds.current().as_rules()


class CheckIn(models.Model):
    session = models.OneToOneField(Session, on_delete=models.PROTECT, related_name="checkin")
    arrived_at = models.DateTimeField()
    arrival_late_entry = models.BooleanField(default=False, help_text="The arrival time was entered afterwards.")
    checked_in_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    no_food_2h = models.BooleanField(gettext_lazy("no food for the last 2 hours"), default=False)
    no_liquids_30min = models.BooleanField(gettext_lazy("no liquids for the last 30 minutes"), default=False)
    nasal_medicines_1h = models.BooleanField(
        gettext_lazy("no nasal steroid or decongestant in the last hour"),
        default=False,
        help_text="Or none taken today.",
    )
    rems_enrolment_checked = models.BooleanField(gettext_lazy("REMS enrolment on file"), default=False)
    concomitant_medicines_reviewed = models.BooleanField(gettext_lazy("concomitant medicines reviewed"), default=False)
    transport_confirmed = models.BooleanField(gettext_lazy("ride home confirmed"), default=False)
    notes = TextField(max_length=NOTE_MAX, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    CHECKLIST = (
        "no_food_2h",
        "no_liquids_30min",
        "nasal_medicines_1h",
        "rems_enrolment_checked",
        "concomitant_medicines_reviewed",
        "transport_confirmed",
    )

    class Meta:
        constraints = [bounded("notes", "checkin")]

    def __str__(self):
        return f"Check-in for session {self.session_id}"

    def checklist_missing(self) -> list[str]:
        return [str(self._meta.get_field(name).verbose_name) for name in self.CHECKLIST if not getattr(self, name)]


class ReadingKind(models.TextChoices):
    PRE_DOSE = rules.PRE_DOSE, "Pre-dose"
    CHECKPOINT = "checkpoint", "Checkpoint"
    DISCHARGE = rules.DISCHARGE, "Before discharge"
    EXTRA = rules.EXTRA, "Extra reading"


class VitalsReading(models.Model):
    """One set of vitals. Never updated or deleted: a correction is a new reading whose
    ``supersedes`` points at the old one, with a reason; both stay visible."""

    # No index of its own: reading_session_time_idx leads with session_id.
    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="readings", db_index=False)
    kind = models.CharField(max_length=12, choices=ReadingKind.choices)
    checkpoint_minute = models.PositiveSmallIntegerField(null=True, blank=True)
    taken_at = models.DateTimeField()
    late_entry = models.BooleanField(default=False, help_text="The time taken was entered afterwards.")
    systolic = models.PositiveSmallIntegerField("systolic BP (mmHg)")
    diastolic = models.PositiveSmallIntegerField("diastolic BP (mmHg)")
    heart_rate = models.PositiveSmallIntegerField("heart rate (/min)")
    spo2 = models.PositiveSmallIntegerField("SpO2 (%)")
    respiratory_rate = models.PositiveSmallIntegerField("respiratory rate (/min)")
    moaas = models.PositiveSmallIntegerField("MOAA/S (0-5)")
    dissociation = models.BooleanField("dissociation present", default=False)
    cadss = models.PositiveSmallIntegerField("CADSS total", null=True, blank=True)
    notes = TextField(max_length=NOTE_MAX, blank=True)
    # The flags shown when the reading was saved (thresholds in force at that time).
    flags = models.JSONField(default=list, blank=True)
    supersedes = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    correction_reason = CharField(max_length=255, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["taken_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(supersedes__isnull=True) | ~models.Q(correction_reason=""),
                name="reading_correction_has_reason",
            ),
            models.CheckConstraint(condition=models.Q(diastolic__lt=models.F("systolic")), name="reading_dia_lt_sys"),
            models.CheckConstraint(condition=models.Q(spo2__lte=100), name="reading_spo2_le_100"),
            models.CheckConstraint(condition=models.Q(moaas__lte=5), name="reading_moaas_le_5"),
            bounded("notes", "reading"),
        ]
        indexes = [
            # Session page and board: WHERE session_id IN (...) ORDER BY taken_at
            models.Index(fields=["session", "taken_at"], name="reading_session_time_idx"),
        ]

    def __str__(self):
        at = when(timezone.localtime(self.taken_at), "time")
        return f"{self.get_kind_display()} {self.systolic}/{self.diastolic} at {at}"

    @property
    def checkpoint_key(self) -> str:
        if self.kind == ReadingKind.CHECKPOINT and self.checkpoint_minute:
            return rules.checkpoint_key(self.checkpoint_minute)
        return self.kind

    @property
    def label(self) -> str:
        if self.kind == ReadingKind.CHECKPOINT and self.checkpoint_minute:
            return f"{self.checkpoint_minute}-minute check"
        return self.get_kind_display()

    @property
    def severity(self) -> str:
        return rules.worst_severity(self.flags)

    def values(self) -> dict:
        return {name: getattr(self, name) for name in rules.PHYSIOLOGICAL_LIMITS}


class StopCause(models.TextChoices):
    ADVERSE_EVENT = "adverse_event", "an adverse event"
    REFUSAL = "refusal", "the patient's refusal"


class DoseRecord(models.Model):
    session = models.OneToOneField(Session, on_delete=models.PROTECT, related_name="dose")
    drug = models.CharField(max_length=20, choices=Drug.choices)
    dose_mg = models.DecimalField("dose (mg)", max_digits=6, decimal_places=1)
    # Esketamine
    devices_planned = models.PositiveSmallIntegerField(null=True, blank=True)
    lot_number = CharField(max_length=40, blank=True)
    # IV ketamine
    weight_kg = models.DecimalField("weight (kg)", max_digits=5, decimal_places=1, null=True, blank=True)
    mg_per_kg = models.DecimalField("mg/kg", max_digits=4, decimal_places=2, null=True, blank=True)
    infusion_start = models.DateTimeField(null=True, blank=True)
    infusion_start_late_entry = models.BooleanField(default=False)
    infusion_end = models.DateTimeField(null=True, blank=True)
    infusion_end_late_entry = models.BooleanField(default=False)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    # Esketamine dosing stopped before every planned device was given.
    stopped_cause = models.CharField(
        "dosing stopped early because of", max_length=20, choices=StopCause.choices, blank=True
    )
    stopped_event = models.ForeignKey(
        "AdverseEvent", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name="adverse event"
    )
    stopped_note = TextField("note", max_length=NOTE_MAX, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    stopped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(stopped_cause="") | models.Q(stopped_at__isnull=False, stopped_by__isnull=False),
                name="dose_stop_has_time_and_nurse",
            ),
            models.CheckConstraint(
                condition=~models.Q(stopped_cause=StopCause.ADVERSE_EVENT) | models.Q(stopped_event__isnull=False),
                name="dose_stop_names_its_event",
            ),
            models.CheckConstraint(condition=models.Q(dose_mg__gt=0), name="dose_mg_positive"),
            bounded("stopped_note", "dose"),
        ]

    def __str__(self):
        return f"{self.get_drug_display()} {self.dose_mg} mg"

    @property
    def is_esketamine(self) -> bool:
        return self.drug == Drug.ESKETAMINE


class DeviceAdministration(models.Model):
    dose = models.ForeignKey(DoseRecord, on_delete=models.PROTECT, related_name="devices")
    number = models.PositiveSmallIntegerField()
    administered_at = models.DateTimeField()
    late_entry = models.BooleanField(default=False, help_text="The time was entered afterwards.")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["dose", "number"]
        constraints = [models.UniqueConstraint(fields=["dose", "number"], name="device_number_unique_per_dose")]

    def __str__(self):
        return f"Device {self.number} at {when(timezone.localtime(self.administered_at), 'time')}"


class Observation(models.Model):
    """Starts at the first device (or the infusion start)."""

    session = models.OneToOneField(Session, on_delete=models.PROTECT, related_name="observation")
    started_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        permissions = [
            ("view_board", "Can view the observation board and session day"),
            ("record_vitals", "Can check in, record vitals, doses, adverse events and discharge"),
            ("override_block", "Can override a pre-dose or discharge vitals block"),
            ("view_reports", "Can view compliance reports and REMS records"),
            ("submit_rems", "Can record that a REMS monitoring form was submitted"),
        ]

    def __str__(self):
        return f"Observation of session {self.session_id} from {when(timezone.localtime(self.started_at), 'time')}"


class PrescriberOverride(models.Model):
    class Kind(models.TextChoices):
        PRE_DOSE = "pre_dose", "Pre-dose block"
        DISCHARGE_VITALS = "discharge_vitals", "Before-discharge vitals"
        FIRST_DOSE = "first_dose", "First dose of the course"

    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="overrides")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # The reading whose values were overridden; a newer reading needs a new decision.
    reading = models.ForeignKey(VitalsReading, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    blocks = models.JSONField(default=list, help_text="The reasons that were blocking, as shown at the time.")
    reason = TextField(max_length=NOTE_MAX)
    prescriber = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(reason=""), name="override_has_reason"),
            bounded("reason", "override"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} override by {self.prescriber}"


class AdverseEvent(models.Model):
    class Kind(models.TextChoices):
        SEDATION = "sedation", "Sedation"
        DISSOCIATION = "dissociation", "Dissociation"
        RESPIRATORY_DEPRESSION = "respiratory_depression", "Respiratory depression"
        HYPERTENSION = "hypertension", "Hypertension"
        NAUSEA_VOMITING = "nausea_vomiting", "Nausea / vomiting"
        OTHER = "other", "Other"

    class Severity(models.TextChoices):
        MILD = "mild", "Mild"
        MODERATE = "moderate", "Moderate"
        SEVERE = "severe", "Severe"

    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="adverse_events")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    description = CharField(max_length=255, blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    serious = models.BooleanField("serious (report to the REMS programme)", default=False)
    onset_at = models.DateTimeField()
    late_entry = models.BooleanField(default=False, help_text="The onset time was entered afterwards.")
    action_taken = TextField(max_length=NOTE_MAX)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["onset_at", "pk"]
        constraints = [bounded("action_taken", "adverse_event")]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.get_severity_display()})"


class Discharge(models.Model):
    observation = models.OneToOneField(Observation, on_delete=models.PROTECT, related_name="discharge")
    discharged_at = models.DateTimeField()
    discharged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    alert = models.BooleanField(default=False)
    oriented = models.BooleanField(default=False)
    steady = models.BooleanField("steady on their feet", default=False)
    picked_up_by = CharField("taken home by", max_length=120)
    picked_up_relationship = CharField("relationship", max_length=60, blank=True)
    picked_up_at = models.DateTimeField()
    matches_arrangement = models.BooleanField(default=True)
    would_have_been_ready_at = models.DateTimeField(
        null=True, blank=True, help_text="When the patient would have been ready without the 2-hour minimum."
    )
    notes = TextField(max_length=NOTE_MAX, blank=True)

    class Meta:
        constraints = [bounded("notes", "discharge")]

    def __str__(self):
        return f"Discharge of session {self.observation.session_id}"


class Addendum(models.Model):
    """A fact added to a session's record after the discharge, with who, when and why; never
    edited. ``field``: the REMS monitoring record field it supplies (its label), or empty for a
    late fact of the day (a device or reading remembered after the patient left)."""

    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="addenda")
    field = CharField("REMS record field", max_length=120, blank=True)
    value = CharField("fact", max_length=255)
    reason = CharField("reason for adding it afterwards", max_length=255)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["recorded_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(value=""), name="addendum_has_value"),
            models.CheckConstraint(condition=~models.Q(reason=""), name="addendum_has_reason"),
        ]

    def __str__(self):
        return f"Addendum to session {self.session_id}: {self.field or 'fact'}"


class RemsSubmission(models.Model):
    session = models.OneToOneField(Session, on_delete=models.PROTECT, related_name="rems_submission")
    submitted_on = models.DateField()
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reference = CharField("confirmation number", max_length=60, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"REMS form for session {self.session_id} submitted {self.submitted_on}"


# Outcome scores, safety reviews, measurement plans, antidepressant history (their own module).
from .models_outcomes import (  # noqa: E402, F401
    AntidepressantTrial,
    EligibilityOverride,
    OutcomePlan,
    OutcomeScore,
    SafetyReview,
)
