"""Core records: sites and chairs, patients and their escorts, staff alerts, the message
outbox, and the append-only audit trail."""

import datetime as dt
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from clinic.formats import when

from . import fields, rules


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            gettext("%(value)s is not a known time zone (e.g. America/New_York)."), params={"value": value}
        )


class Site(models.Model):
    name = fields.CharField(max_length=120, unique=True)
    time_zone = fields.CharField(max_length=64, default="America/New_York", validators=[validate_time_zone])
    phone = fields.CharField(max_length=32, blank=True)
    address = fields.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def local_today(self) -> dt.date:
        return timezone.now().astimezone(self.tzinfo).date()


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class OpeningHours(models.Model):
    """One row per open weekday; a weekday without a row is a closed day."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens = models.TimeField()
    closes = models.TimeField()

    class Meta:
        ordering = ["site", "weekday"]
        verbose_name_plural = _("opening hours")
        constraints = [
            models.UniqueConstraint(fields=["site", "weekday"], name="opening_hours_one_per_weekday"),
            models.CheckConstraint(
                condition=models.Q(opens__lt=models.F("closes")), name="opening_hours_opens_before_closes"
            ),
        ]

    def __str__(self):
        return f"{self.get_weekday_display()} {when(self.opens, 'time')}-{when(self.closes, 'time')}"


class Closure(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="closures")
    date = models.DateField()
    reason = fields.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["site", "date"], name="closure_one_per_day")]

    def __str__(self):
        return gettext("%(site)s closed %(day)s") % {"site": self.site, "day": when(self.date, "date")}


class Chair(models.Model):
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="chairs")
    name = fields.CharField(max_length=60)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["site", "name"]
        constraints = [models.UniqueConstraint(fields=["site", "name"], name="chair_name_unique_per_site")]

    def __str__(self):
        return self.name


class Sex(models.TextChoices):
    FEMALE = "F", _("Female")
    MALE = "M", _("Male")
    OTHER = "X", _("Other / not stated")


class Channel(models.TextChoices):
    SMS = "sms", _("SMS")
    EMAIL = "email", _("E-mail")
    NONE = "none", _("No reminders")


class Patient(models.Model):
    mrn = fields.CharField(_("MRN"), max_length=20, unique=True, validators=[rules.validate_mrn])
    first_name = fields.CharField(max_length=80)
    last_name = fields.CharField(max_length=80)
    date_of_birth = models.DateField()
    sex = fields.CharField(max_length=1, choices=Sex.choices)
    phone = fields.CharField(max_length=20, blank=True, help_text=_("Stored in international (E.164) form."))
    email = fields.EmailField(blank=True)
    preferred_channel = fields.CharField(
        _("preferred reminder channel"), max_length=8, choices=Channel.choices, default=Channel.SMS
    )
    reminder_opt_out = models.BooleanField(_("opted out of reminders"), default=False)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="patients", null=True, blank=True)

    rems_enrollment_id = fields.CharField(_("REMS enrolment id"), max_length=40, blank=True)
    rems_enrollment_date = models.DateField(_("REMS enrolment date"), null=True, blank=True)

    # Contraindications (any one blocks esketamine/ketamine treatment).
    aneurysmal_vascular_disease = models.BooleanField(_("aneurysmal vascular disease or AVM"), default=False)
    intracerebral_haemorrhage = models.BooleanField(_("history of intracerebral haemorrhage"), default=False)
    ketamine_hypersensitivity = models.BooleanField(_("hypersensitivity to (es)ketamine"), default=False)
    # Cautions (treatment allowed only with a prescriber's note).
    uncontrolled_hypertension = models.BooleanField(default=False)
    psychosis_history = models.BooleanField(_("history of psychosis"), default=False)
    substance_use_disorder = models.BooleanField(default=False)
    pregnancy = models.BooleanField(_("pregnant or planning pregnancy"), default=False)
    takes_benzodiazepines = models.BooleanField(_("benzodiazepines"), default=False)
    takes_sedative_hypnotics = models.BooleanField(_("non-benzodiazepine sedative hypnotics"), default=False)
    takes_opioids = models.BooleanField(_("opioids"), default=False)
    takes_psychostimulants = models.BooleanField(_("psychostimulants"), default=False)
    takes_maois = models.BooleanField(_("MAOIs"), default=False)
    caution_prescriber_note = fields.TextField(
        _("prescriber note on cautions"), blank=True, max_length=rules.NOTE_MAX_LENGTH
    )

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name"]
        indexes = [
            # Patient search: WHERE last_name ILIKE 'x%' ORDER BY last_name, first_name
            models.Index(fields=["last_name", "first_name"], name="patient_name_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(date_of_birth__gte=rules.EARLIEST_DATE), name="patient_birth_date_sane"
            ),
            models.CheckConstraint(
                condition=models.Q(rems_enrollment_date__isnull=True)
                | models.Q(rems_enrollment_date__gte=models.F("date_of_birth")),
                name="patient_rems_enrolment_after_birth",
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("caution_prescriber_note"), rules.NOTE_MAX_LENGTH),
                name="patient_caution_note_length",
            ),
        ]
        permissions = [("manage_patients", "Can register and edit patients")]

    def __str__(self):
        return f"{self.last_name}, {self.first_name} ({self.mrn})"

    def get_absolute_url(self):
        return reverse("clinic:patient-detail", args=[self.pk])

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def screening(self) -> rules.Screening:
        return rules.screen(
            contraindications={field: getattr(self, field) for field in rules.CONTRAINDICATION_FIELDS},
            cautions={field: getattr(self, field) for field in rules.CAUTION_FIELDS},
            prescriber_note=self.caution_prescriber_note,
        )

    @property
    def is_rems_enrolled(self) -> bool:
        return bool(self.rems_enrollment_id and self.rems_enrollment_date)


class EscortContact(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="escorts")
    name = fields.CharField(max_length=120)
    phone = fields.CharField(max_length=20)
    relationship = fields.CharField(max_length=60)
    is_emergency_contact = models.BooleanField(default=False)

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return f"{self.name} ({self.relationship})"


class AuditAction(models.TextChoices):
    VIEW = "view", _("View")
    CREATE = "create", _("Create")
    UPDATE = "update", _("Update")
    DELETE = "delete", _("Delete")
    EXPORT = "export", _("Export")
    LOGIN = "login", _("Login")
    LOGIN_FAILED = "login_failed", _("Failed login")
    LOGOUT = "logout", _("Logout")
    LOCKOUT = "lockout", _("Lockout")
    DENIED = "denied", _("Permission denied")
    UNLOCK = "unlock", _("Lockout lifted")
    PASSWORD = "password", _("Password set")
    PASSWORD_RESET = "password_reset", _("Password reset link sent")
    SECOND_FACTOR = "second_factor", _("Second factor")


class AuditEvent(models.Model):
    """Append-only: rows are only ever inserted (a PostgreSQL trigger rejects UPDATE,
    DELETE and TRUNCATE). Written through clinic.audit.audit_record()."""

    created_at = models.DateTimeField(default=timezone.now)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=40, blank=True)
    actor = models.CharField(max_length=10, default="staff")  # staff, patient, system
    action = models.CharField(max_length=16, choices=AuditAction.choices)
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=40, blank=True)
    # No index of its own: audit_patient_time_idx leads with patient_id and serves the lookups
    # and the PROTECT check; a second index would only be one more write on every audited page.
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    ip = models.GenericIPAddressField(null=True, blank=True)
    path = models.CharField(max_length=255, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    # Tamper evidence: HMAC over this row's content and the previous row's hash (clinic.audit).
    prev_hash = models.CharField(max_length=64, blank=True, default="")
    hash = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        # Every audit page reads newest first with a keyset cursor:
        #   WHERE <filter> AND created_at <= :c AND (created_at < :c OR id < :id)
        #   ORDER BY created_at DESC, id DESC LIMIT 51
        # Each filter has an index that ends in (created_at, id), so any page is an index
        # range scan that stops after 51 rows, however deep the cursor.
        indexes = [
            # A patient's access history / report filtered by patient:
            #   WHERE patient_id = ? ORDER BY created_at DESC, id DESC
            models.Index(fields=["patient", "-created_at", "-id"], name="audit_patient_time_idx"),
            # Unfiltered report and date range:
            #   WHERE created_at >= ? AND created_at < ? ORDER BY created_at DESC, id DESC
            models.Index(fields=["-created_at", "-id"], name="audit_time_idx"),
            # Report filtered by user (also failed logins, which have no user row):
            #   WHERE username = ? ORDER BY created_at DESC, id DESC
            models.Index(fields=["username", "-created_at", "-id"], name="audit_username_time_idx"),
            # Report filtered by action (e.g. every lockout): WHERE action = ? ORDER BY created_at DESC, id DESC
            models.Index(fields=["action", "-created_at", "-id"], name="audit_action_time_idx"),
            # Report filtered by object type: WHERE object_type = ? ORDER BY created_at DESC, id DESC
            models.Index(fields=["object_type", "-created_at", "-id"], name="audit_objtype_time_idx"),
        ]

    def __str__(self):
        when_ = when(timezone.localtime(self.created_at), "datetime")
        return f"{when_} {self.username or '-'} {self.action} {self.object_type} {self.object_id}"

    @property
    def summary_items(self) -> list[tuple[str, object]]:
        """The summary's (key, value) pairs, as the audit pages list them."""
        return list(self.summary.items()) if isinstance(self.summary, dict) else []


class AlertSeverity(models.TextChoices):
    INFO = "info", _("Info")
    WARNING = "warning", _("Warning")
    CRITICAL = "critical", _("Critical")


class StaffAlert(models.Model):
    """Something a member of staff must look at. ``dedupe_key`` makes raising idempotent:
    the same condition (e.g. "overdue:session:12:checkpoint:40") creates one row at most.

    ``session_id`` is a plain reference so that the core app does not depend on the
    scheduling app; the scheduling and monitoring apps resolve it."""

    kind = models.CharField(max_length=40)
    severity = models.CharField(max_length=10, choices=AlertSeverity.choices, default=AlertSeverity.WARNING)
    audience = models.CharField(max_length=20, default="nurse")  # nurse, scheduler, administrator
    site = models.ForeignKey(Site, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    session_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    message = models.CharField(max_length=255)
    url = models.CharField(max_length=255, blank=True)
    dedupe_key = models.CharField(max_length=120, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # Navigation counter / board panel: WHERE acknowledged_at IS NULL AND audience IN (...)
            models.Index(
                fields=["audience", "-created_at"],
                name="alert_open_idx",
                condition=models.Q(acknowledged_at__isnull=True),
            ),
        ]

    def __str__(self):
        return self.message


class OutboxMessage(models.Model):
    """Every message the app sends to a patient, whatever the channel. With the default
    outbox backends this *is* the delivery: administrators read them at /outbox/."""

    class Status(models.TextChoices):
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    channel = models.CharField(max_length=8, choices=[("sms", _("SMS")), ("email", _("E-mail"))])
    backend = models.CharField(max_length=120)
    to = models.CharField(max_length=254)
    subject = models.CharField(max_length=255, blank=True)
    body = models.TextField()
    html_body = models.TextField(blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.SENT)
    error = models.TextField(blank=True)
    reference = models.CharField(max_length=60, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.channel} to {self.to} ({self.status})"


class AuditCheckpoint(models.Model):
    """A signed record of the audit chain's end at one moment: how many rows it had and the
    hash of the last one (HMAC with AUDIT_CHAIN_KEY over the three values). Kept outside the
    audit table, so rows cut off the end of the chain show against the latest checkpoint
    (``clinic.audit.audit_chain_verify``). Written by the verifier and every few minutes by
    beat; the database refuses UPDATE and DELETE on PostgreSQL."""

    created_at = models.DateTimeField(default=timezone.now)
    count = models.PositiveBigIntegerField()  # rows in the chain up to and including head_id
    head_id = models.BigIntegerField(null=True)
    head_hash = models.CharField(max_length=64)
    signature = models.CharField(max_length=64)

    class Meta:
        ordering = ["-count", "-id"]
        get_latest_by = "count"

    def __str__(self):
        return f"{when(timezone.localtime(self.created_at), 'datetime')} {self.count} rows, head {self.head_hash[:12]}"


from .models_integrations import IntegrationToken  # noqa: E402, F401  (tokens of other systems)
from .models_ops import ExportJob, Heartbeat  # noqa: E402, F401  (heartbeats and export jobs)
