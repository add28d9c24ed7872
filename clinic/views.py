from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import registry, selectors, services
from .audit import audit_record
from .forms import EscortFormSet, PatientForm, PatientSearchForm
from .health import health_report
from .models import AuditAction, Patient, StaffAlert
from .roles import ALERT_AUDIENCES, user_role


@login_required
def home(request):
    for name in registry.home_pages(user_role(request.user)):
        try:
            return redirect(reverse(name))
        except NoReverseMatch:
            continue
    return redirect("clinic:patient-list")


@transaction.non_atomic_requests
def healthz(request):
    """JSON: the database, the broker, the worker's and beat's heartbeats; 503 when any is down
    or stale. Outside the request's transaction, so a database that is down is reported, not a
    server error."""
    report = health_report()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)


@login_required
@permission_required("clinic.view_patient", raise_exception=True)
def patient_list(request):
    form = PatientSearchForm(request.GET or None)
    query = form.cleaned_data["q"] if form.is_valid() else ""
    page = selectors.patient_page(query, request.GET.get("page"))
    response = render(request, "clinic/patient_list.html", {"form": form, "page": page, "query": query})
    # Audited once the page is rendered: the audit trail's append lock is held from here to the
    # end of the request, so it covers the insert and the commit, not the rendering.
    audit_record(action=AuditAction.VIEW, request=request, object_type="patient_list", summary={"q": query})
    return response


@login_required
@permission_required("clinic.manage_patients", raise_exception=True)
def patient_create(request):
    form = PatientForm(request.POST or None)
    formset = EscortFormSet(request.POST or None, prefix="escorts")
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        patient = services.patient_save(form=form, formset=formset, request=request)
        messages.success(request, _("%(name)s is registered.") % {"name": patient.full_name})
        return redirect(patient)
    return render(request, "clinic/patient_form.html", {"form": form, "formset": formset, "creating": True})


def _get_patient(pk) -> Patient:
    return get_object_or_404(Patient.objects.select_related("site"), pk=pk)


@login_required
@permission_required("clinic.view_patient", raise_exception=True)
def patient_detail(request, pk):
    patient = _get_patient(pk)
    ctx = {"patient": patient, "escorts": list(patient.escorts.all()), "screening": patient.screening()}
    ctx["panels"] = registry.patient_panels(patient=patient, user=request.user)
    response = render(request, "clinic/patient_detail.html", ctx)
    audit_record(action=AuditAction.VIEW, request=request, obj=patient)
    return response


@login_required
@permission_required("clinic.manage_patients", raise_exception=True)
def patient_edit(request, pk):
    patient = _get_patient(pk)
    form = PatientForm(request.POST or None, instance=patient)
    formset = EscortFormSet(request.POST or None, instance=patient, prefix="escorts")
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        services.patient_save(form=form, formset=formset, request=request)
        messages.success(request, _("Patient record saved."))
        return redirect(patient)
    response = render(request, "clinic/patient_form.html", {"form": form, "formset": formset, "patient": patient})
    if request.method == "GET":
        audit_record(action=AuditAction.VIEW, request=request, obj=patient, summary={"page": "edit"})
    return response


@login_required
def alert_list(request):
    audiences = ALERT_AUDIENCES.get(user_role(request.user), ())
    alerts = list(
        StaffAlert.objects.filter(acknowledged_at__isnull=True, audience__in=audiences).select_related(
            "patient", "site"
        )[:200]
    )
    response = render(request, "clinic/alert_list.html", {"alerts": alerts})
    # The alerts name patients and their readings: a page view of patient data.
    patients = sorted({alert.patient_id for alert in alerts if alert.patient_id})
    audit_record(action=AuditAction.VIEW, request=request, object_type="alert_list", summary={"patients": patients})
    return response


@login_required
@require_POST
def alert_acknowledge(request, pk):
    audiences = ALERT_AUDIENCES.get(user_role(request.user), ())
    alert = get_object_or_404(StaffAlert, pk=pk, audience__in=audiences)
    if services.alert_acknowledge(alert=alert, user=request.user, request=request):
        messages.success(request, _("Alert acknowledged."))
    else:
        messages.info(request, _("Someone else already acknowledged this alert."))
    return redirect(_next_page(request, "clinic:alerts"))


def _next_page(request, default: str) -> str:
    """The page a form asked to go back to (``next``), when it is a page of this site."""
    wanted = request.POST.get("next", "")
    safe = len(wanted) <= 2000 and url_has_allowed_host_and_scheme(
        wanted, {request.get_host()}, require_https=request.is_secure()
    )
    return wanted if wanted and safe else reverse(default)


def permission_denied(request, exception=None):
    if getattr(request, "user", None) is not None and request.user.is_authenticated:
        audit_record(action=AuditAction.DENIED, request=request, object_type="url", object_id=request.path[:40])
    return render(request, "403.html", status=403)


def page_not_found(request, exception=None):
    return render(request, "404.html", status=404)


def server_error(request):
    return render(request, "500.html", status=500)
