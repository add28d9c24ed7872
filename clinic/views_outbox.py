"""The outbox (/outbox/): every message sent to patients with its status, and the messages
that could not be sent, with a retry button. Administrators only.

The failed messages come from the apps that send them, through their retry sources
(clinic.registry)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import registry, services
from .audit import audit_record
from .models import AuditAction, OutboxMessage


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
    failed = [(source, failed) for source in registry.retry_sources() if (failed := list(source.failed()))]
    # The patient of each message on the page and the messages still to be sent, from the apps
    # that send them (the core app does not know what a reminder is).
    references = [m.reference for m in page.object_list if m.reference]
    patients, planned = {}, []
    for source in registry.outbox_sources():
        patients.update(source.patients(references))
        planned.extend(source.planned())
    for message in page.object_list:
        message.patient_name = patients.get(message.reference, "")
    planned.sort(key=lambda p: p.due_at)
    context = {
        "page": page,
        "status": status,
        "statuses": OutboxMessage.Status.choices,
        "failed": failed,
        "planned": planned,
    }
    return render(request, "clinic/outbox.html", context)


@login_required
@require_POST
@permission_required("clinic.view_outboxmessage", raise_exception=True)
def outbox_retry(request, source, pk):
    if registry.retry_source(source) is None:
        raise Http404("No such kind of message.")
    if services.outbox_retry(source=source, pk=pk, request=request):
        messages.success(request, _("The message will be sent again within a minute."))
    else:
        messages.info(request, _("This message is no longer failed; nothing to retry."))
    return redirect("clinic:outbox")
