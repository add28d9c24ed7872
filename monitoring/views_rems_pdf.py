"""The REMS monitoring record as a PDF: one session's (a draft while incomplete), or every
complete, unsubmitted record of a period in one file. Who may read the REMS records may print
them; every file is audited."""

import datetime as dt

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from clinic.audit import audit_record
from clinic.formats import when
from clinic.forms import BoundedDateField
from clinic.models import AuditAction

from . import rems_pdf, selectors, selectors_rems_pdf
from .views import _get_rems_session


class PeriodForm(forms.Form):
    first = BoundedDateField(label=_("Treatment dates from"), years_ahead=0)
    last = BoundedDateField(label=_("to"), years_ahead=0)

    error_messages = {"order": _("The last day cannot be before the first.")}

    def clean(self):
        data = super().clean()
        if data.get("first") and data.get("last") and data["last"] < data["first"]:
            self.add_error("last", ValidationError(self.error_messages["order"], code="order"))
        return data


def _pdf(body: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@permission_required("monitoring.view_reports", raise_exception=True)
@require_GET
def rems_record_pdf(request, pk):
    session = _get_rems_session(pk)
    record = selectors.rems_record(session)
    body = rems_pdf.records_pdf([record], clinic_name=settings.CLINIC_NAME, generated_at=timezone.localtime())
    audit_record(
        action=AuditAction.EXPORT,
        request=request,
        obj=session,
        summary={"file": "rems-record.pdf", "draft": not record.complete},
    )
    suffix = "" if record.complete else "-DRAFT"
    return _pdf(body, f"rems-session-{session.pk}-{when(record.treatment_date, 'iso')}{suffix}.pdf")


@login_required
@permission_required("monitoring.view_reports", raise_exception=True)
@require_GET
def rems_period_pdf(request):
    form = PeriodForm(request.GET or None)
    context = {"form": form, "limit": selectors_rems_pdf.PERIOD_LIMIT}
    if not form.is_bound or not form.is_valid():
        if not form.is_bound:
            today = timezone.localdate()
            form.initial = {"first": today - dt.timedelta(days=7), "last": today}
        return render(request, "integrations/rems_period.html", context, status=400 if form.is_bound else 200)
    first, last = form.cleaned_data["first"], form.cleaned_data["last"]
    records = selectors_rems_pdf.complete_unsubmitted(first=first, last=last, tz=timezone.get_current_timezone())
    audit_record(
        action=AuditAction.EXPORT,
        request=request,
        object_type="rems_records_pdf",
        summary={"first": first.isoformat(), "last": last.isoformat(), "sessions": [r.session.pk for r in records]},
    )
    if not records:
        context["empty"] = True
        return render(request, "integrations/rems_period.html", context)
    body = rems_pdf.records_pdf(records, clinic_name=settings.CLINIC_NAME, generated_at=timezone.localtime())
    return _pdf(body, f"rems-records-{when(first, 'iso')}-{when(last, 'iso')}.pdf")
