"""What this app adds to the core app's navigation, home pages and outbox (clinic.registry)."""

from django.utils.translation import gettext_lazy as _

from clinic import registry
from clinic.roles import SCHEDULER


def _failed_reminders() -> list[registry.FailedMessage]:
    from .models import Reminder

    reminders = (
        Reminder.objects.filter(status=Reminder.Status.FAILED)
        .select_related("session__patient", "session__chair__site")
        .order_by("-due_at")[:100]
    )
    return [
        registry.FailedMessage(
            pk=reminder.pk,
            patient=reminder.session.patient.full_name,
            when=reminder.session.local_start(),
            what=f"{reminder.kind} · {reminder.channel or '-'}",
            tries=reminder.attempts,
            error=reminder.last_error,
        )
        for reminder in reminders
    ]


PLANNED_SHOWN = 50


def _reminder_patients(references: list[str]) -> dict[str, str]:
    """The patient of each reminder the outbox lists (references "reminder:<id>")."""
    from .models import Reminder
    from .reminders import reference_for

    ids = [int(r.split(":", 1)[1]) for r in references if r.startswith("reminder:") and r.split(":", 1)[1].isdigit()]
    if not ids:
        return {}
    rows = Reminder.objects.filter(pk__in=ids).values_list(
        "pk", "session__patient__first_name", "session__patient__last_name"
    )
    return {reference_for(pk): f"{first} {last}" for pk, first, last in rows}


def _planned_reminders() -> list[registry.PlannedMessage]:
    from .models import Reminder

    reminders = (
        Reminder.objects.filter(status=Reminder.Status.PENDING)
        .select_related("session__patient")
        .order_by("due_at")[:PLANNED_SHOWN]
    )
    return [
        registry.PlannedMessage(
            patient=reminder.session.patient.full_name,
            due_at=reminder.due_at,
            what=f"{reminder.kind} · {reminder.channel or '-'}",
        )
        for reminder in reminders
    ]


def _retry_reminder(pk: int):
    from django.shortcuts import get_object_or_404

    from .models import Reminder
    from .reminders import reminder_retry

    reminder = get_object_or_404(Reminder, pk=pk)
    return reminder if reminder_retry(reminder=reminder) else None


def _patient_panel(*, patient, user) -> registry.PatientPanel | None:
    """The patient's active course with its next and past sessions, or the way to start one."""
    if not user.has_perm("scheduling.view_schedule"):
        return None
    from .selectors import patient_courses

    return registry.PatientPanel(
        template="scheduling/_patient_courses.html",
        actions_template="scheduling/_patient_course_actions.html",
        context={"courses": patient_courses(patient), "patient": patient},
    )


def register() -> None:
    from . import audit_words

    audit_words.register()
    view = "scheduling.view_schedule"
    registry.nav_register(label=_("Day"), url_name="scheduling:day", permission=view, order=20)
    registry.nav_register(label=_("Week"), url_name="scheduling:week", permission=view, order=30)
    registry.nav_register(label=_("Rides"), url_name="scheduling:transport-list", permission=view, order=40)
    registry.nav_register(
        label=_("Reviews"), url_name="scheduling:review-list", permission="scheduling.review_course", order=45
    )
    registry.home_register(role=SCHEDULER, url_name="scheduling:day", order=10)
    registry.patient_panel_register("courses", _patient_panel)
    registry.retry_source_register(
        registry.RetrySource(slug="reminders", label=_("Reminders"), failed=_failed_reminders, retry=_retry_reminder)
    )
    registry.outbox_source_register(
        "reminders", registry.OutboxSource(patients=_reminder_patients, planned=_planned_reminders)
    )
