"""Outcome scores (PHQ-9, GAD-7, MADRS), the prescriber's acknowledgement of a positive safety
item, a protocol's measurement plan, and the patient's antidepressant history with the
prescriber's eligibility overrides. Scores are PHI: every page that shows them is audited."""

from django.conf import settings
from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from clinic.fields import CharField, TextField
from clinic.models import Patient
from scheduling.models import Protocol, Session

from . import instruments

NOTE_MAX = 2000


def _bounded(field: str, table: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=LessThanOrEqual(Length(field), NOTE_MAX), name=f"{table}_{field}_bounded")


class OutcomeScore(models.Model):
    """One instrument answered for one session: by the patient on their link before it, or by
    a clinician on the session-day page. One per session and instrument; the patient may change
    theirs until the session starts (``version`` counts the changes)."""

    class Source(models.TextChoices):
        PATIENT = instruments.PATIENT, gettext_lazy("Patient")
        CLINICIAN = instruments.CLINICIAN, gettext_lazy("Clinician")

    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="outcome_scores")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    instrument = models.CharField(max_length=8, choices=instruments.CHOICES)
    source = models.CharField(max_length=10, choices=Source.choices)
    answers = models.JSONField(help_text=gettext_lazy("The item answers in item order."))
    functional = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text=gettext_lazy("PHQ-9 difficulty question (0-3).")
    )
    total = models.PositiveSmallIntegerField()
    safety_positive = models.BooleanField(
        default=False, help_text=gettext_lazy("The safety item was answered above its line.")
    )
    version = models.PositiveIntegerField(default=1)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["recorded_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["session", "instrument"], name="outcome_score_one_per_session"),
            models.CheckConstraint(condition=models.Q(total__lte=60), name="outcome_score_total_range"),
            models.CheckConstraint(
                condition=models.Q(functional__isnull=True) | models.Q(functional__lte=3),
                name="outcome_score_functional_range",
            ),
        ]
        indexes = [
            # Course trend and report: WHERE patient_id = ? ORDER BY recorded_at
            models.Index(fields=["patient", "recorded_at"], name="outcome_patient_time_idx"),
        ]
        permissions = [("record_outcomes", "Can record clinician ratings and antidepressant history")]

    def __str__(self):
        return gettext("%(scale)s %(total)s for session %(session)s") % {
            "scale": self.get_instrument_display(),
            "total": self.total,
            "session": self.session_id,
        }

    @property
    def definition(self) -> instruments.Instrument:
        return instruments.get(self.instrument)


class SafetyReview(models.Model):
    """A prescriber's acknowledgement of a positive safety item, with a note. It covers the
    answers as they were (``version``): a changed questionnaire needs a new one."""

    score = models.ForeignKey(OutcomeScore, on_delete=models.PROTECT, related_name="safety_reviews")
    version = models.PositiveIntegerField()
    note = TextField(max_length=NOTE_MAX)
    prescriber = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["score", "version"], name="safety_review_once_per_version"),
            models.CheckConstraint(condition=~models.Q(note=""), name="safety_review_has_note"),
            _bounded("note", "safety_review"),
        ]

    def __str__(self):
        return gettext("Safety review of score %(score)s by %(prescriber)s") % {
            "score": self.score_id,
            "prescriber": self.prescriber,
        }


class OutcomePlan(models.Model):
    """What a protocol measures: the clinician-rated instrument and how often it is rated,
    and whether a course needs the treatment-resistant depression eligibility check."""

    protocol = models.OneToOneField(Protocol, on_delete=models.CASCADE, related_name="outcome_plan")
    clinician_instrument = models.CharField(
        max_length=8, choices=[(c, instruments.get(c).name) for c in instruments.CLINICIAN_RATED], default="madrs"
    )
    rating_every_sessions = models.PositiveSmallIntegerField(
        default=4,
        help_text=gettext_lazy(
            "A clinician rating every this many sessions, besides the baseline and the end of the first "
            "phase (0: only those two)."
        ),
    )
    requires_trd_eligibility = models.BooleanField(
        gettext_lazy("needs treatment-resistant depression eligibility"),
        default=False,
        help_text=gettext_lazy(
            "Two adequate failed antidepressant trials and a current oral antidepressant, or a prescriber's override."
        ),
    )

    def __str__(self):
        return gettext("Outcome plan of %(protocol)s") % {"protocol": self.protocol}


class AntidepressantTrial(models.Model):
    """One antidepressant the patient took (or takes now) in the current episode."""

    class Outcome(models.TextChoices):
        NO_RESPONSE = "no_response", gettext_lazy("No response")
        PARTIAL = "partial", gettext_lazy("Partial response")
        NOT_TOLERATED = "not_tolerated", gettext_lazy("Stopped: not tolerated")
        RESPONDED = "responded", gettext_lazy("Responded")
        CURRENT = "current", gettext_lazy("Taking it now")

    FAILED = (Outcome.NO_RESPONSE, Outcome.PARTIAL)

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    drug = CharField(max_length=80)
    dose = CharField(max_length=40, help_text=gettext_lazy("e.g. 20 mg a day"))
    adequate_dose = models.BooleanField(gettext_lazy("adequate dose"), default=False)
    weeks = models.PositiveSmallIntegerField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["recorded_at", "pk"]
        constraints = [models.CheckConstraint(condition=models.Q(weeks__lte=520), name="trial_weeks_range")]

    def __str__(self):
        return gettext("%(drug)s %(dose)s, %(weeks)s weeks: %(outcome)s") % {
            "drug": self.drug,
            "dose": self.dose,
            "weeks": self.weeks,
            "outcome": self.get_outcome_display(),
        }


class EligibilityOverride(models.Model):
    """A prescriber lets a patient start a protocol's course despite the reasons shown, with a
    written reason. It lifts only the reasons it saw (``reasons``)."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    protocol = models.ForeignKey(Protocol, on_delete=models.PROTECT, related_name="+")
    reasons = models.JSONField(default=list)
    reason = TextField(max_length=NOTE_MAX)
    prescriber = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(reason=""), name="eligibility_override_has_reason"),
            _bounded("reason", "eligibility_override"),
        ]

    def __str__(self):
        return gettext("Eligibility override for %(patient)s (%(protocol)s)") % {
            "patient": self.patient,
            "protocol": self.protocol,
        }


def safety_review_pending() -> models.Exists:
    """For a read of sessions: a positive safety item of the session's scores is waiting for a
    prescriber's acknowledgement of its current answers (an annotation, no extra query)."""
    reviewed = SafetyReview.objects.filter(score=models.OuterRef("pk"), version=models.OuterRef("version"))
    return models.Exists(
        OutcomeScore.objects.filter(session=models.OuterRef("pk"), safety_positive=True).exclude(
            models.Exists(reviewed)
        )
    )
