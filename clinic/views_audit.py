"""The administrator's audit pages: the report, its CSV export, a patient's access history
and the login lockouts."""

import datetime as dt

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import audit_words, formats, selectors_audit, services
from .audit import audit_record
from .forms import LockoutUnlockForm
from .forms_audit import AuditFilterForm
from .jinja2 import Partial, choice_labels, url_with_pk
from .models import AuditAction, Patient


def _rows(events, *, patient_column: bool = True) -> Partial:
    """The table rows of a page of events, each saying what it did in words (clinic.audit_words),
    rendered by the Jinja2 backend (autoescaped):
    measured in process for 50 rows, 14.2 ms with the Django template language against 6.3 ms
    (templates/jinja2/clinic/audit_rows.html); the rows were most of the page's time."""
    context = {
        "events": events,
        "patient_column": patient_column,
        "describe": audit_words.describe,
        "action_labels": choice_labels(AuditAction.choices),
        "patient_url": url_with_pk("clinic:patient-access"),
        "stamp": _stamper(),
    }
    return Partial("clinic/audit_rows.html", context)


def _stamper():
    """When a row was written, in the clinic's zone: (ISO 8601 for the ``<time>`` element, the
    text people read: "Mon 2 Mar 2026 09:05:09", clinic.formats). The day is written once per
    day a page shows (most of a page's rows share a few days)."""
    days: dict = {}

    def stamp(moment) -> tuple[str, str]:
        local = timezone.localtime(moment)
        day = days.get(local.date())
        if day is None:
            day = days[local.date()] = formats.when(local.date(), "date")
        return local.isoformat(), f"{day} {formats.when(local, 'time_seconds')}"

    return stamp


def _query_without_cursor(request) -> str:
    params = request.GET.copy()
    params.pop("after", None)
    params.pop("before", None)
    return params.urlencode()


@login_required
@permission_required("clinic.view_auditevent", raise_exception=True)
def audit_list(request):
    form = AuditFilterForm(request.GET or None)
    wanted = selectors_audit.audit_filter(**form.filters())
    page = selectors_audit.keyset_page(wanted, after=request.GET.get("after"), before=request.GET.get("before"))
    ctx = {"form": form, "page": page, "rows": _rows(page.events), "query": _query_without_cursor(request)}
    response = render(request, "clinic/audit_list.html", ctx)
    # Audited once the page is rendered: the audit trail's append lock is held from here to the
    # end of the request, so it covers the insert and the commit, not the rendering.
    audit_record(action=AuditAction.VIEW, request=request, object_type="audit_report", summary=form.summary())
    return response


@login_required
@permission_required("clinic.view_auditevent", raise_exception=True)
def audit_export(request):
    """The CSV of the filtered rows is written by a worker (clinic.exports): to the page that
    asks for it, with the report's filters."""
    query = request.GET.copy()
    query["kind"] = "audit"
    return redirect(f"{reverse('clinic:export-new')}?{query.urlencode()}")


@login_required
@permission_required("clinic.view_auditevent", raise_exception=True)
def patient_access(request, pk):
    patient = get_object_or_404(Patient, pk=pk)
    wanted = selectors_audit.audit_filter(patient_ids=[patient.pk])
    page = selectors_audit.keyset_page(wanted, after=request.GET.get("after"), before=request.GET.get("before"))
    ctx = {"patient": patient, "page": page, "rows": _rows(page.events, patient_column=False), "query": ""}
    response = render(request, "clinic/audit_patient_access.html", ctx)
    audit_record(action=AuditAction.VIEW, request=request, obj=patient, object_type="patient_access")
    return response


def _locked_attempts():
    since = timezone.now() - dt.timedelta(hours=settings.AXES_COOLOFF_TIME)
    return AccessAttempt.objects.filter(
        failures_since_start__gte=settings.AXES_FAILURE_LIMIT, attempt_time__gte=since
    ).order_by("-attempt_time")


@login_required
@permission_required("clinic.view_auditevent", raise_exception=True)
def audit_lockouts(request):
    attempts = list(_locked_attempts()[:200])
    response = render(request, "clinic/audit_lockouts.html", {"attempts": attempts})
    audit_record(action=AuditAction.VIEW, request=request, object_type="lockout_list")
    return response


@login_required
@require_POST
@permission_required("auth.change_user", raise_exception=True)
def audit_unlock(request):
    form = LockoutUnlockForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a locked-out user name from the list."))
        return redirect("clinic:audit-lockouts")
    username = form.cleaned_data["username"]
    if services.lockout_lift(username=username, request=request):
        messages.success(request, _("%(username)s may sign in again.") % {"username": username})
    else:
        messages.info(request, _("%(username)s was not locked out.") % {"username": username})
    return redirect("clinic:audit-lockouts")
