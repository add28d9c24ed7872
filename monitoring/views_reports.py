"""The compliance report page and the CSV download of each of its tables."""

import datetime as dt

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from clinic.audit import audit_record
from clinic.forms import BoundedDateField
from clinic.jinja2 import Rendered
from clinic.models import AuditAction, Site
from clinic.selectors import all_sites, site_with_id

from . import reports

DEFAULT_WEEKS = 8


class ReportFilterForm(forms.Form):
    """The site and period of the report. The sites are the list the page shows, so checking
    the choice reads nothing more."""

    site = forms.TypedChoiceField(label=_("Site"))
    date_from = BoundedDateField(label=_("From"))
    date_to = BoundedDateField(label=_("To"))

    error_messages = {
        "dates_reversed": _("The start date is after the end date."),
        "too_long": _("Choose a period of at most two years."),
    }

    def __init__(self, data, *, sites: list[Site]):
        super().__init__(data)
        by_pk = {str(site.pk): site for site in sites}
        field = self.fields["site"]
        field.choices = [(pk, str(site)) for pk, site in by_pk.items()]
        field.coerce = by_pk.__getitem__

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            raise ValidationError(self.error_messages["dates_reversed"], code="dates_reversed")
        if start and end and (end - start).days > 731:
            raise ValidationError(self.error_messages["too_long"], code="too_long")
        return data


def _form(request, sites: list[Site]) -> ReportFilterForm:
    site = sites[0] if sites else None
    today = site.local_today() if site else dt.date.today()  # noqa: DTZ011  (no site: nothing to report)
    initial = {
        "site": site.pk if site else None,
        "date_from": today - dt.timedelta(weeks=DEFAULT_WEEKS),
        "date_to": today,
    }
    data = {key: request.GET.get(key) or initial[key] for key in initial}
    return ReportFilterForm(data, sites=sites)


@login_required
@permission_required("monitoring.view_reports", raise_exception=True)
def reports_page(request):
    sites = all_sites()
    form = _form(request, sites)
    report = reports.compliance_report(**form.cleaned_data) if form.is_valid() else None
    summary = {k: str(getattr(v, "pk", v)) for k, v in form.cleaned_data.items()} if form.is_valid() else {}
    context = {
        "form": form,
        "sites": sites,
        "picked_site": site_with_id(sites, form["site"].value()),
        "report": report,
        "sections": Rendered(report.sections_html) if report else None,
        "report_cache_seconds": settings.REPORT_CACHE_SECONDS,
        "tables": report.tables if report else [],
    }
    response = render(request, "monitoring/reports.html", context)
    # Audited once the page is rendered: the audit trail's append lock is held from here to the
    # end of the request, so it covers the insert and the commit, not the rendering.
    audit_record(action=AuditAction.VIEW, request=request, object_type="compliance_report", summary=summary)
    return response


@login_required
@permission_required("monitoring.view_reports", raise_exception=True)
def reports_csv(request, slug):
    """A table's CSV is written by a worker (clinic.exports): to the page that asks for it,
    with the report's site and period."""
    if slug not in reports.SECTIONS:
        raise Http404("No such report table")
    query = request.GET.copy()
    query["kind"] = f"report:{slug}"
    return redirect(f"{reverse('clinic:export-new')}?{query.urlencode()}")
