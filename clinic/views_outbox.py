"""The outbox (/outbox/): every message sent to patients with its status, and the reminders
that could not be sent, with a retry button. Administrators only.

Reminders belong to the scheduling app, which depends on this core app and not the other
way round: they are reached here by name (``apps.get_model`` and the service's dotted path),
the way the navigation names other apps' URLs."""

from django.apps import apps
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.module_loading import import_string
from django.views.decorators.http import require_POST

from .audit import audit_record
from .models import AuditAction, OutboxMessage

RETRY_SERVICE = "scheduling.reminders.reminder_retry"


def _failed_reminders():
    Reminder = apps.get_model("scheduling", "Reminder")
    return (
        Reminder.objects.filter(status="failed")
        .select_related("session__patient", "session__chair__site")
        .order_by("-due_at")[:100]
    )


@login_required
@permission_required("clinic.view_outboxmessage", raise_exception=True)
def outbox(request):
    status = request.GET.get("status", "")
    messages_qs = OutboxMessage.objects.all()
    if status in OutboxMessage.Status.values:
        messages_qs = messages_qs.filter(status=status)
    else:
        status = ""
    page = Paginator(messages_qs, 50).get_page(request.GET.get("page"))
    audit_record(action=AuditAction.VIEW, request=request, object_type="outbox", summary={"status": status})
    context = {
        "page": page,
        "status": status,
        "statuses": OutboxMessage.Status.choices,
        "failed_reminders": _failed_reminders(),
    }
    return render(request, "clinic/outbox.html", context)


@login_required
@require_POST
@permission_required("clinic.view_outboxmessage", raise_exception=True)
def reminder_retry(request, pk):
    reminder = get_object_or_404(apps.get_model("scheduling", "Reminder"), pk=pk)
    if import_string(RETRY_SERVICE)(reminder=reminder):
        audit_record(action=AuditAction.UPDATE, request=request, obj=reminder, summary={"retry": True})
        messages.success(request, "The reminder will be sent again within a minute.")
    else:
        messages.info(request, "This reminder is no longer failed; nothing to retry.")
    return redirect("clinic:outbox")
