"""Protocols, treatment courses, sessions (bookings), transport home and patient reminders."""

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from clinic import fields
from clinic.formats import when
from clinic.models import Chair, Patient, Site

from . import rules, rules_reminders

# Longest protocol notes an administrator may write (checked by forms and the database).
PROTOCOL_NOTES_MAX = 2000


class Drug(models.TextChoices):
    ESKETAMINE = "esketamine", gettext_lazy("Esketamine nasal spray")
    IV_KETAMINE = "iv_ketamine", gettext_lazy("IV ketamine")


class Protocol(models.Model):
    name = fields.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    drug = models.CharField(max_length=20, choices=Drug.choices)
    indication = fields.CharField(max_length=200, blank=True)
    requires_rems = models.BooleanField(gettext_lazy("requires REMS enrolment"), default=True)
    checkpoint_minutes = models.JSONField(
        default=list, blank=True, help_text=gettext_lazy("Observation checkpoints after dosing, in minutes, e.g. [40].")
    )
    notes = fields.TextField(blank=True, max_length=PROTOCOL_NOTES_MAX)
    active = models.BooleanField(default=True)
    # Dosing the session day enforces (monitoring): esketamine doses from the list, the first
    # dose of a course the first-dose amount unless a prescriber overrides; IV ketamine by weight
    # within the mg/kg range.
    allowed_doses_mg = models.JSONField(
        gettext_lazy("allowed doses (mg)"),
        default=list,
        blank=True,
        help_text=gettext_lazy("Esketamine doses a nurse may give, e.g. [56, 84]."),
    )
    first_dose_mg = models.DecimalField(
        gettext_lazy("first dose of a course (mg)"),
        max_digits=6,
        decimal_places=1,
        null=True,
        blank=True,
        help_text=gettext_lazy("Empty: any allowed dose. A different first dose needs a prescriber override."),
    )
    mg_per_kg_min = models.DecimalField(
        gettext_lazy("lowest mg/kg"), max_digits=4, decimal_places=2, null=True, blank=True
    )
    mg_per_kg_max = models.DecimalField(
        gettext_lazy("highest mg/kg"), max_digits=4, decimal_places=2, null=True, blank=True
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(mg_per_kg_min__isnull=True)
                | models.Q(mg_per_kg_max__isnull=True)
                | models.Q(mg_per_kg_min__lte=models.F("mg_per_kg_max")),
                name="protocol_mg_per_kg_range",
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("notes"), PROTOCOL_NOTES_MAX), name="protocol_notes_max_length"
            ),
        ]

    def __str__(self):
        return self.name


class ProtocolPhase(models.Model):
    """One step of a protocol, e.g. "Induction: twice weekly for 4 weeks".

    ``sessions_per_week`` sessions every ``interval_weeks`` weeks, for ``weeks`` weeks or,
    when ``weeks`` is empty, for ``sessions`` sessions."""

    protocol = models.ForeignKey(Protocol, on_delete=models.CASCADE, related_name="phases")
    order = models.PositiveSmallIntegerField()
    name = fields.CharField(max_length=60)
    weeks = models.PositiveSmallIntegerField(null=True, blank=True)
    sessions = models.PositiveSmallIntegerField(null=True, blank=True)
    sessions_per_week = models.PositiveSmallIntegerField(default=1)
    interval_weeks = models.PositiveSmallIntegerField(default=1)
    # The phase's frequency is a ceiling: never two doses closer than this (defaults: 2 days
    # twice weekly, 5 weekly, 10 every two weeks; rules.default_min_days_between).
    min_days_between = models.PositiveSmallIntegerField(
        gettext_lazy("minimum days between doses"),
        default=2,
        help_text=gettext_lazy(
            "No two doses closer than this many days: 2 for twice weekly, 5 for weekly, 10 for every 2 weeks."
        ),
    )
    default_dose_mg = models.DecimalField(max_digits=6, decimal_places=1)
    dosing_minutes = models.PositiveSmallIntegerField(default=15)
    observation_minutes = models.PositiveSmallIntegerField(default=120)
    turnover_minutes = models.PositiveSmallIntegerField(default=15)
    review_after = models.BooleanField(
        gettext_lazy("prescriber review when this phase ends"),
        default=False,
        help_text=gettext_lazy(
            "The course pauses after this phase's last session until a prescriber decides: "
            "continue, next phase, step back to the previous frequency, or stop."
        ),
    )

    class Meta:
        ordering = ["protocol", "order"]
        constraints = [
            models.UniqueConstraint(fields=["protocol", "order"], name="phase_order_unique"),
            models.CheckConstraint(
                condition=models.Q(weeks__isnull=False) | models.Q(sessions__isnull=False), name="phase_has_length"
            ),
        ]

    def __str__(self):
        return f"{self.protocol}: {self.name}"

    @property
    def session_minutes(self) -> int:
        return self.dosing_minutes + self.observation_minutes + self.turnover_minutes

    def spec(self) -> rules.PhaseSpec:
        """What the planner needs to know of this phase."""
        return rules.PhaseSpec(
            name=self.name,
            sessions_per_week=self.sessions_per_week,
            dose_mg=self.default_dose_mg,
            session_minutes=self.session_minutes,
            weeks=self.weeks,
            sessions=self.sessions,
            interval_weeks=self.interval_weeks,
            min_days_between=self.min_days_between,
            order=self.order,
            review_after=self.review_after,
        )


class Course(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", gettext_lazy("Active")
        COMPLETED = "completed", gettext_lazy("Completed")
        STOPPED = "stopped", gettext_lazy("Stopped")

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="courses")
    protocol = models.ForeignKey(Protocol, on_delete=models.PROTECT, related_name="courses")
    # Copied from the protocol on every save, so the database can hold one active course per
    # patient and drug (course_one_active_per_drug).
    drug = models.CharField(max_length=20, choices=Drug.choices, editable=False)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="courses")
    preferred_chair = models.ForeignKey(Chair, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    start_date = models.DateField()
    weekdays = models.JSONField(default=list, help_text=gettext_lazy("Preferred weekdays, 0 = Monday."))
    start_time = models.TimeField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    signed_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    signed_off_at = models.DateTimeField(null=True, blank=True)
    # Set while the course is paused for a prescriber's review at the end of this phase (its
    # ``order``): no session is planned past it until the decision (CourseReview).
    review_phase_order = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-start_date"]
        permissions = [("review_course", "Can decide a course's prescriber review")]
        constraints = [
            # Two active courses of one drug would book doses on top of each other.
            models.UniqueConstraint(
                fields=["patient", "drug"], condition=models.Q(status="active"), name="course_one_active_per_drug"
            ),
        ]

    def __str__(self):
        return gettext("%(protocol)s for %(patient)s") % {"protocol": self.protocol, "patient": self.patient}

    def save(self, *args, **kwargs):
        self.drug = self.protocol.drug
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "drug"}
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("scheduling:course-detail", args=[self.pk])


class CourseReview(models.Model):
    """A prescriber's decision at the end of a phase that requires a review, or on a running
    course flagged for review (``flags``: a worsening outcome score...)."""

    class Decision(models.TextChoices):
        CONTINUE = "continue", gettext_lazy("Continue at the same frequency")
        NEXT = "next", gettext_lazy("Go on to the next phase")
        STEP_BACK = "step_back", gettext_lazy("Step back to the previous frequency")
        EXTEND = "extend", gettext_lazy("Extend the current phase")
        STOP = "stop", gettext_lazy("Stop the course")

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="reviews")
    phase_order = models.PositiveSmallIntegerField()
    phase_name = fields.CharField(max_length=60)
    decision = models.CharField(max_length=12, choices=Decision.choices)
    note = fields.CharField(max_length=500, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["decided_at"]

    def __str__(self):
        return f"{self.get_decision_display()} ({self.course})"


class CourseReviewFlag(models.Model):
    """A reason to review a running course before its plan asks for one, e.g. a worsening
    outcome score (monitoring raises it through ``services.course_flag_raise``). It puts the
    course on the prescribers' review worklist without pausing or cancelling anything.

    One row per source (``key``, e.g. the score): the same score flagged again is this row,
    brought up to date. Open until a prescriber's decision settles it (``review``) or a
    correction of its source clears it (``cleared_at``)."""

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="review_flags")
    # The session the reason comes from (the one the score was taken for).
    session = models.ForeignKey("Session", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    key = models.CharField(max_length=80, unique=True)
    reason = fields.CharField(max_length=255)  # in words: "MADRS 20 -> 26 since the baseline ..."
    detail = models.JSONField(default=dict, blank=True)  # e.g. instrument, baseline, current, score
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )  # empty: the patient's own answers
    raised_at = models.DateTimeField(default=timezone.now)
    cleared_at = models.DateTimeField(null=True, blank=True)
    cleared_reason = fields.CharField(max_length=255, blank=True)
    review = models.ForeignKey(CourseReview, on_delete=models.PROTECT, null=True, blank=True, related_name="flags")

    class Meta:
        ordering = ["raised_at", "pk"]
        indexes = [
            # The review worklist: WHERE review_id IS NULL AND cleared_at IS NULL (open flags).
            models.Index(
                fields=["course"],
                name="review_flag_open_idx",
                condition=models.Q(review__isnull=True, cleared_at__isnull=True),
            ),
        ]

    def __str__(self):
        return gettext("Review flag on %(course)s: %(reason)s") % {"course": self.course, "reason": self.reason}

    @property
    def is_open(self) -> bool:
        return self.review_id is None and self.cleared_at is None


class SessionStatus(models.TextChoices):
    BOOKED = "booked", gettext_lazy("Booked")
    CHECKED_IN = "checked_in", gettext_lazy("Checked in")
    IN_OBSERVATION = "in_observation", gettext_lazy("In observation")
    DISCHARGED = "discharged", gettext_lazy("Discharged")
    CANCELLED = "cancelled", gettext_lazy("Cancelled")
    NO_SHOW = "no_show", gettext_lazy("No-show")


# Status only moves forward along these edges.
ALLOWED_TRANSITIONS = {
    SessionStatus.BOOKED: {SessionStatus.CHECKED_IN, SessionStatus.CANCELLED, SessionStatus.NO_SHOW},
    SessionStatus.CHECKED_IN: {SessionStatus.IN_OBSERVATION, SessionStatus.CANCELLED},
    SessionStatus.IN_OBSERVATION: {SessionStatus.DISCHARGED},
    SessionStatus.DISCHARGED: set(),
    SessionStatus.CANCELLED: set(),
    SessionStatus.NO_SHOW: set(),
}


class Session(models.Model):
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="sessions", null=True, blank=True)
    # Denormalised from the course so the database can forbid overlapping sessions per patient.
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="sessions")
    chair = models.ForeignKey(Chair, on_delete=models.PROTECT, related_name="sessions")
    start = models.DateTimeField()
    planned_end = models.DateTimeField()
    planned_dose_mg = models.DecimalField(max_digits=6, decimal_places=1)
    phase_name = fields.CharField(max_length=60, blank=True)
    sequence = models.PositiveSmallIntegerField(
        default=1, help_text=gettext_lazy("1 for the first session of the course.")
    )
    status = models.CharField(max_length=16, choices=SessionStatus.choices, default=SessionStatus.BOOKED)
    status_changed_at = models.DateTimeField(default=timezone.now)
    cancel_reason = fields.CharField(max_length=255, blank=True)
    # Set on the session booked by a re-plan to make up a missed or cancelled one.
    replaces = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True, related_name="replacement")
    # Bumped on every change; forms carry it so a stale form is refused.
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["start"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(start__lt=models.F("planned_end")), name="session_start_before_end"
            ),
        ]
        indexes = [
            # Day/week views and the board: WHERE chair_id IN (...) AND start >= ? AND start < ?
            models.Index(fields=["chair", "start"], name="session_chair_start_idx"),
            # Course timeline and patient overlap check: WHERE patient_id = ? ORDER BY start
            models.Index(fields=["patient", "start"], name="session_patient_start_idx"),
        ]
        permissions = [
            ("view_schedule", "Can view the schedule"),
            ("book_session", "Can book, move and cancel sessions"),
        ]

    def __str__(self):
        return f"{self.patient} {when(timezone.localtime(self.start), 'datetime')}"

    def get_absolute_url(self):
        return reverse("scheduling:session-detail", args=[self.pk])

    @property
    def site_id(self):
        return self.chair.site_id

    def can_transition(self, to: str) -> bool:
        return to in ALLOWED_TRANSITIONS[SessionStatus(self.status)]

    def check_transition(self, to: str) -> None:
        if not self.can_transition(to):
            raise ValidationError(
                gettext("A session that is %(current)s cannot become %(new)s."),
                code="invalid_transition",
                params={
                    "current": self.get_status_display().lower(),
                    "new": SessionStatus(to).label.lower(),
                },
            )

    def is_cancellable(self) -> bool:
        return self.can_transition(SessionStatus.CANCELLED)

    def local_start(self) -> dt.datetime:
        return timezone.localtime(self.start, self.chair.site.tzinfo)

    def local_end(self) -> dt.datetime:
        return timezone.localtime(self.planned_end, self.chair.site.tzinfo)


class TransportArrangement(models.Model):
    class Kind(models.TextChoices):
        ESCORT = "escort", gettext_lazy("Escort / driver")
        RIDE = "ride", gettext_lazy("Booked ride service")

    class Status(models.TextChoices):
        UNCONFIRMED = "unconfirmed", gettext_lazy("Unconfirmed")
        CONFIRMED_STAFF = "confirmed_staff", gettext_lazy("Confirmed by staff")
        CONFIRMED_PATIENT = "confirmed_patient", gettext_lazy("Confirmed by patient")

    session = models.OneToOneField(Session, on_delete=models.CASCADE, related_name="transport")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.ESCORT)
    name = fields.CharField(gettext_lazy("driver or service name"), max_length=120, blank=True)
    phone = fields.CharField(max_length=20, blank=True)
    relationship = fields.CharField(max_length=60, blank=True)
    booking_reference = fields.CharField(max_length=60, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.UNCONFIRMED)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.name or gettext('No ride recorded')} ({self.get_status_display()})"

    @property
    def is_confirmed(self) -> bool:
        return self.status != self.Status.UNCONFIRMED


class Reminder(models.Model):
    """One row per (session, kind). The beat tick claims due rows (pending -> sending) with a
    compare-and-set update; the send task moves them to sent, skipped or failed."""

    class Status(models.TextChoices):
        PENDING = "pending", gettext_lazy("Pending")
        SENDING = "sending", gettext_lazy("Sending")
        SENT = "sent", gettext_lazy("Sent")
        SKIPPED = "skipped", gettext_lazy("Skipped")
        FAILED = "failed", gettext_lazy("Failed")

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=20)
    channel = models.CharField(max_length=8, blank=True)
    due_at = models.DateTimeField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    skip_reason = models.CharField(max_length=120, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["due_at"]
        constraints = [models.UniqueConstraint(fields=["session", "kind"], name="reminder_one_per_session_kind")]
        indexes = [
            # Beat tick: WHERE status = 'pending' AND due_at <= now() ORDER BY due_at
            models.Index(fields=["due_at"], name="reminder_pending_due_idx", condition=models.Q(status="pending")),
        ]

    def __str__(self):
        return f"{self.kind} reminder for session {self.session_id} ({self.status})"

    @property
    def skip_reason_display(self) -> str:
        """Why it was skipped, in the clinic's language (the row keeps the English reason)."""
        return rules_reminders.reason_text(self.skip_reason)
