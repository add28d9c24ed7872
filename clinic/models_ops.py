"""Tables of the app's own operation: the heartbeats of the Celery worker and beat (read by
/healthz) and the export jobs (long CSV exports written to a file by a worker)."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.formats import when


class Heartbeat(models.Model):
    """The last time a background process showed it was alive: ``worker`` when a worker ran
    the heartbeat task, ``beat`` when beat's scheduler ticked. One row per name."""

    name = models.CharField(max_length=20, primary_key=True)
    at = models.DateTimeField()

    def __str__(self):
        return f"{self.name} at {when(timezone.localtime(self.at), 'datetime')}"


class ExportJob(models.Model):
    """One export asked for by a member of staff: what (``kind`` and its ``params``), how far
    the worker has got, and the file it wrote (until it expires)."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")

    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)  # the file's name
    kind = models.CharField(max_length=60)
    label = models.CharField(max_length=200)
    params = models.JSONField(default=dict, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    rows_done = models.PositiveBigIntegerField(default=0)
    rows_total = models.PositiveBigIntegerField(null=True, blank=True)
    filename = models.CharField(max_length=200, blank=True)
    size_bytes = models.PositiveBigIntegerField(default=0)
    error = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    progress_at = models.DateTimeField(null=True, blank=True)  # last progress written by the worker
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The export list of one member of staff, newest first.
            models.Index(fields=["requested_by", "-created_at"], name="exportjob_user_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["queued", "running", "done", "failed", "expired"]),
                name="exportjob_status_valid",
            ),
        ]

    def __str__(self):
        return f"{self.label} ({self.get_status_display()})"

    @property
    def percent(self) -> int | None:
        """How far the export has got, 0-100, or None while the total is unknown."""
        if self.status == self.Status.DONE:
            return 100
        if not self.rows_total:
            return None
        return min(100, self.rows_done * 100 // self.rows_total)

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED, self.Status.EXPIRED)
