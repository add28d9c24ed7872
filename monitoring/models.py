"""The session day: check-in, pre-dose checks, dose record, observation with vitals,
adverse events, discharge and the REMS monitoring record submission.

Readings are append-only: a correction is a new row that supersedes the old one."""

import dataclasses

from django.conf import settings
from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

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
        gettext_lazy("pre-dose systolic limit (mmHg)"),
        default=D.predose_systolic_max,
        help_text=gettext_lazy("Dosing is blocked above this."),
    )
    predose_diastolic_max = models.PositiveSmallIntegerField(
        gettext_lazy("pre-dose diastolic limit (mmHg)"),
        default=D.predose_diastolic_max,
        help_text=gettext_lazy("Dosing is blocked above this."),
    )
    systolic_high = models.PositiveSmallIntegerField(
        gettext_lazy("alert: systolic at or above"), default=D.systolic_high
    )
    diastolic_high = models.PositiveSmallIntegerField(
        gettext_lazy("alert: diastolic at or above"), default=D.diastolic_high
    )
    spo2_low = models.PositiveSmallIntegerField(gettext_lazy("alert: SpO2 at or below (warning)"), default=D.spo2_low)
    spo2_critical = models.PositiveSmallIntegerField(
        gettext_lazy("alert: SpO2 at or below (critical)"), default=D.spo2_critical
    )
    respiratory_rate_low = models.PositiveSmallIntegerField(
        gettext_lazy("alert: respiratory rate at or below"), default=D.respiratory_rate_low
    )
    respiratory_rate_high = models.PositiveSmallIntegerField(
        gettext_lazy("alert: respiratory rate at or above"), default=D.respiratory_rate_high
    )
    heart_rate_low = models.PositiveSmallIntegerField(
        gettext_lazy("alert: heart rate at or below"), default=D.heart_rate_low
    )
    heart_rate_high = models.PositiveSmallIntegerField(
        gettext_lazy("alert: heart rate at or above"), default=D.heart_rate_high
    )
    moaas_low = models.PositiveSmallIntegerField(gettext_lazy("alert: MOAA/S at or below"), default=D.moaas_low)
    checkpoint_grace_minutes = models.PositiveSmallIntegerField(
        default=D.checkpoint_grace_minutes,
        help_text=gettext_lazy("A checkpoint becomes overdue this long after it is due."),
    )
    observation_minimum_minutes = models.PositiveSmallIntegerField(
        default=D.observation_minimum_minutes,
        help_text=gettext_lazy("Minimum observation from the first device to discharge."),
    )
    device_mg = models.PositiveSmallIntegerField(gettext_lazy("esketamine mg per device"), default=D.device_mg)
    device_rest_minutes = models.PositiveSmallIntegerField(
        gettext_lazy("rest between devices (minutes)"), default=D.device_rest_minutes
    )
    default_checkpoint_minutes = models.JSONField(
        default=default_checkpoint_minutes,
        help_text=gettext_lazy("Checkpoints after dosing (minutes) when the protocol sets none, e.g. [40]."),
    )
    rems_window_days = models.PositiveSmallIntegerField(
        gettext_lazy("REMS record due within (days)"), default=D.rems_window_days
    )
    rems_warning_day = models.PositiveSmallIntegerField(
        gettext_lazy("REMS reminder on day"),
        default=D.rems_warning_day,
        help_text=gettext_lazy("Administrators are alerted from this day on."),
    )
    late_entry_window_minutes = models.PositiveSmallIntegerField(
        gettext_lazy("late-entry window (minutes)"),
        default=D.late_entry_window_minutes,
        help_text=gettext_lazy("A nurse may enter a clinical time this far before now; it is marked as a late entry."),
    )
    checkin_window_minutes = models.PositiveSmallIntegerField(
        gettext_lazy("check-in opens (minutes before the session)"),
        default=D.checkin_window_minutes,
        help_text=gettext_lazy("Check-in is possible from this long before the session starts, on the session's day."),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = gettext_lazy("clinical thresholds")
        verbose_name_plural = gettext_lazy("clinical thresholds")
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=THRESHOLDS_ID), name="clinical_thresholds_singleton"),
            models.CheckConstraint(
                condition=models.Q(spo2_critical__lte=models.F("spo2_low")), name="thresholds_spo2_critical_le_low"
            ),
        ]

    def __str__(self):
        return gettext("Clinical thresholds")

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
    arrival_late_entry = models.BooleanField(
        default=False, help_text=gettext_lazy("The arrival time was entered afterwards.")
    )
    checked_in_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    no_food_2h = models.BooleanField(gettext_lazy("no food for the last 2 hours"), default=False)
    no_liquids_30min = models.BooleanField(gettext_lazy("no liquids for the last 30 minutes"), default=False)
    nasal_medicines_1h = models.BooleanField(
        gettext_lazy("no nasal steroid or decongestant in the last hour"),
        default=False,
        help_text=gettext_lazy("Or none taken today."),
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
        return gettext("Check-in for session %(session)s") % {"session": self.session_id}

    def checklist_missing(self) -> list[str]:
        return [str(self._meta.get_field(name).verbose_name) for name in self.CHECKLIST if not getattr(self, name)]


class ReadingKind(models.TextChoices):
    PRE_DOSE = rules.PRE_DOSE, gettext_lazy("Pre-dose")
    CHECKPOINT = "checkpoint", gettext_lazy("Checkpoint")
    DISCHARGE = rules.DISCHARGE, gettext_lazy("Before discharge")
    EXTRA = rules.EXTRA, gettext_lazy("Extra reading")


class VitalsReading(models.Model):
    """One set of vitals. Never updated or deleted: a correction is a new reading whose
    ``supersedes`` points at the old one, with a reason; both stay visible."""

    # No index of its own: reading_session_time_idx leads with session_id.
    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="readings", db_index=False)
    kind = models.CharField(max_length=12, choices=ReadingKind.choices)
    checkpoint_minute = models.PositiveSmallIntegerField(null=True, blank=True)
    taken_at = models.DateTimeField()
    late_entry = models.BooleanField(default=False, help_text=gettext_lazy("The time taken was entered afterwards."))
    systolic = models.PositiveSmallIntegerField(gettext_lazy("systolic BP (mmHg)"))
    diastolic = models.PositiveSmallIntegerField(gettext_lazy("diastolic BP (mmHg)"))
    heart_rate = models.PositiveSmallIntegerField(gettext_lazy("heart rate (/min)"))
    spo2 = models.PositiveSmallIntegerField(gettext_lazy("SpO2 (%)"))
    respiratory_rate = models.PositiveSmallIntegerField(gettext_lazy("respiratory rate (/min)"))
    moaas = models.PositiveSmallIntegerField(gettext_lazy("MOAA/S (0-5)"))
    dissociation = models.BooleanField(gettext_lazy("dissociation present"), default=False)
    cadss = models.PositiveSmallIntegerField(gettext_lazy("CADSS total"), null=True, blank=True)
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
        return gettext("%(kind)s %(systolic)s/%(diastolic)s at %(time)s") % {
            "kind": self.get_kind_display(),
            "systolic": self.systolic,
            "diastolic": self.diastolic,
            "time": at,
        }

    @property
    def checkpoint_key(self) -> str:
        if self.kind == ReadingKind.CHECKPOINT and self.checkpoint_minute:
            return rules.checkpoint_key(self.checkpoint_minute)
        return self.kind

    @property
    def label(self) -> str:
        if self.kind == ReadingKind.CHECKPOINT and self.checkpoint_minute:
            return gettext("%(minutes)s-minute check") % {"minutes": self.checkpoint_minute}
        return self.get_kind_display()

    @property
    def severity(self) -> str:
        return rules.worst_severity(self.flags)

    def values(self) -> dict:
        return {name: getattr(self, name) for name in rules.PHYSIOLOGICAL_LIMITS}


class StopCause(models.TextChoices):
    ADVERSE_EVENT = "adverse_event", gettext_lazy("an adverse event")
    REFUSAL = "refusal", gettext_lazy("the patient's refusal")


class DoseRecord(models.Model):
    session = models.OneToOneField(Session, on_delete=models.PROTECT, related_name="dose")
    drug = models.CharField(max_length=20, choices=Drug.choices)
    dose_mg = models.DecimalField(gettext_lazy("dose (mg)"), max_digits=6, decimal_places=1)
    # Esketamine
    devices_planned = models.PositiveSmallIntegerField(null=True, blank=True)
    lot_number = CharField(max_length=40, blank=True)
    # IV ketamine
    weight_kg = models.DecimalField(gettext_lazy("weight (kg)"), max_digits=5, decimal_places=1, null=True, blank=True)
    mg_per_kg = models.DecimalField(gettext_lazy("mg/kg"), max_digits=4, decimal_places=2, null=True, blank=True)
    infusion_start = models.DateTimeField(null=True, blank=True)
    infusion_start_late_entry = models.BooleanField(default=False)
    infusion_end = models.DateTimeField(null=True, blank=True)
    infusion_end_late_entry = models.BooleanField(default=False)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    # Esketamine dosing stopped before every planned device was given.
    stopped_cause = models.CharField(
        gettext_lazy("dosing stopped early because of"), max_length=20, choices=StopCause.choices, blank=True
    )
    stopped_event = models.ForeignKey(
        "AdverseEvent",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=gettext_lazy("adverse event"),
    )
    stopped_note = TextField(gettext_lazy("note"), max_length=NOTE_MAX, blank=True)
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
        return gettext("%(drug)s %(dose)s mg") % {"drug": self.get_drug_display(), "dose": self.dose_mg}

    @property
    def is_esketamine(self) -> bool:
        return self.drug == Drug.ESKETAMINE


class DeviceAdministration(models.Model):
    dose = models.ForeignKey(DoseRecord, on_delete=models.PROTECT, related_name="devices")
    number = models.PositiveSmallIntegerField()
    administered_at = models.DateTimeField()
    late_entry = models.BooleanField(default=False, help_text=gettext_lazy("The time was entered afterwards."))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["dose", "number"]
        constraints = [models.UniqueConstraint(fields=["dose", "number"], name="device_number_unique_per_dose")]

    def __str__(self):
        at = when(timezone.localtime(self.administered_at), "time")
        return gettext("Device %(number)s at %(time)s") % {"number": self.number, "time": at}


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
        at = when(timezone.localtime(self.started_at), "time")
        return gettext("Observation of session %(session)s from %(time)s") % {"session": self.session_id, "time": at}


class PrescriberOverride(models.Model):
    class Kind(models.TextChoices):
        PRE_DOSE = "pre_dose", gettext_lazy("Pre-dose block")
        DISCHARGE_VITALS = "discharge_vitals", gettext_lazy("Before-discharge vitals")
        FIRST_DOSE = "first_dose", gettext_lazy("First dose of the course")

    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="overrides")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # The reading whose values were overridden; a newer reading needs a new decision.
    reading = models.ForeignKey(VitalsReading, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    blocks = models.JSONField(
        default=list, help_text=gettext_lazy("The reasons that were blocking, as shown at the time.")
    )
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
        return gettext("%(kind)s override by %(prescriber)s") % {
            "kind": self.get_kind_display(),
            "prescriber": self.prescriber,
        }


class AdverseEvent(models.Model):
    class Kind(models.TextChoices):
        SEDATION = "sedation", gettext_lazy("Sedation")
        DISSOCIATION = "dissociation", gettext_lazy("Dissociation")
        RESPIRATORY_DEPRESSION = "respiratory_depression", gettext_lazy("Respiratory depression")
        HYPERTENSION = "hypertension", gettext_lazy("Hypertension")
        NAUSEA_VOMITING = "nausea_vomiting", gettext_lazy("Nausea / vomiting")
        OTHER = "other", gettext_lazy("Other")

    class Severity(models.TextChoices):
        MILD = "mild", gettext_lazy("Mild")
        MODERATE = "moderate", gettext_lazy("Moderate")
        SEVERE = "severe", gettext_lazy("Severe")

    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="adverse_events")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    description = CharField(max_length=255, blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    serious = models.BooleanField(gettext_lazy("serious (report to the REMS programme)"), default=False)
    onset_at = models.DateTimeField()
    late_entry = models.BooleanField(default=False, help_text=gettext_lazy("The onset time was entered afterwards."))
    action_taken = TextField(max_length=NOTE_MAX)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["onset_at", "pk"]
        constraints = [bounded("action_taken", "adverse_event")]

    def __str__(self):
        return gettext("%(kind)s (%(severity)s)") % {
            "kind": self.get_kind_display(),
            "severity": self.get_severity_display(),
        }


class Discharge(models.Model):
    observation = models.OneToOneField(Observation, on_delete=models.PROTECT, related_name="discharge")
    discharged_at = models.DateTimeField()
    discharged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    alert = models.BooleanField(default=False)
    oriented = models.BooleanField(default=False)
    steady = models.BooleanField(gettext_lazy("steady on their feet"), default=False)
    picked_up_by = CharField(gettext_lazy("taken home by"), max_length=120)
    picked_up_relationship = CharField(gettext_lazy("relationship"), max_length=60, blank=True)
    picked_up_at = models.DateTimeField()
    matches_arrangement = models.BooleanField(default=True)
    would_have_been_ready_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=gettext_lazy("When the patient would have been ready without the 2-hour minimum."),
    )
    notes = TextField(max_length=NOTE_MAX, blank=True)

    class Meta:
        constraints = [bounded("notes", "discharge")]

    def __str__(self):
        return gettext("Discharge of session %(session)s") % {"session": self.observation.session_id}


class Addendum(models.Model):
    """A fact added to a session's record after the discharge, with who, when and why; never
    edited. ``field``: the REMS monitoring record field it supplies (its label), or empty for a
    late fact of the day (a device or reading remembered after the patient left)."""

    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="addenda")
    field = CharField(gettext_lazy("REMS record field"), max_length=120, blank=True)
    value = CharField(gettext_lazy("fact"), max_length=255)
    reason = CharField(gettext_lazy("reason for adding it afterwards"), max_length=255)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["recorded_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(value=""), name="addendum_has_value"),
            models.CheckConstraint(condition=~models.Q(reason=""), name="addendum_has_reason"),
        ]

    def __str__(self):
        if not self.field:
            return gettext("Addendum to session %(session)s: fact") % {"session": self.session_id}
        return gettext("Addendum to session %(session)s: %(field)s") % {
            "session": self.session_id,
            "field": gettext(self.field),
        }


class RemsSubmission(models.Model):
    session = models.OneToOneField(Session, on_delete=models.PROTECT, related_name="rems_submission")
    submitted_on = models.DateField()
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reference = CharField(gettext_lazy("confirmation number"), max_length=60, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return gettext("REMS form for session %(session)s submitted %(day)s") % {
            "session": self.session_id,
            "day": self.submitted_on,
        }


# Outcome scores, safety reviews, measurement plans, antidepressant history (their own module).
from .models_outcomes import (  # noqa: E402, F401
    AntidepressantTrial,
    EligibilityOverride,
    OutcomePlan,
    OutcomeScore,
    SafetyReview,
)
