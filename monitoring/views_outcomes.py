"""Outcome scores: the patient's questionnaire on their signed link, the clinician's rating and
the prescriber's safety acknowledgement on the session day, the antidepressant history with
the eligibility override, and the outcomes report."""

import csv

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from clinic.audit import audit_record
from clinic.models import AuditAction, Patient
from scheduling.views_confirm import _appointment, _session_for

from . import instruments, outcomes_panels, selectors_outcomes, services_outcomes
from .forms_outcomes import EligibilityOverrideForm, InstrumentForm, OutcomesFilterForm, SafetyAckForm, TrialForm
from .models_outcomes import OutcomeScore
from .views import _action, _apply_errors, _done, _get_session, _render_day

# --- The patient's questionnaire (no login: the signed link of the reminders) ------------


def _questionnaire_forms(session, data=None) -> list[InstrumentForm]:
    existing = {s.instrument: s for s in OutcomeScore.objects.filter(session=session)}
    return [
        InstrumentForm(data, instrument=instruments.get(code), initial_score=existing.get(code))
        for code in instruments.SELF_REPORT
    ]


@never_cache
@require_http_methods(["GET", "POST"])
def questionnaire(request, token):
    """PHQ-9 (with its difficulty question) and GAD-7 on a phone, saved once per session and
    changed until the session starts."""
    session, refusal = _session_for(request, token)
    if refusal:
        return refusal
    forms = _questionnaire_forms(session, request.POST or None)
    if request.method == "POST" and all(f.is_valid() for f in forms):
        try:
            services_outcomes.questionnaire_save(
                session=session,
                answers={f.instrument.code: f.answers() for f in forms},
                functional=forms[0].functional_answer(),
                request=request,
            )
        except ValidationError as exc:
            for form in forms:
                _apply_errors(form, exc)
        else:
            return redirect("monitoring:questionnaire-done", token=token)
    answered = any(f.initial for f in forms)
    if request.method == "GET":
        # The page shows the appointment, and the answers once given: every view is audited,
        # as the confirm page's are.
        audit_record(
            action=AuditAction.VIEW,
            request=request,
            obj=session,
            object_type="outcome_scores" if answered else "session",
            actor="patient",
            summary={"page": "questionnaire", "answered": answered},
        )
    context = {
        **_appointment(session),
        "forms": forms,
        "token": token,
        "answered": answered,
        "crisis_line": settings.CRISIS_LINE_TEXT,
    }
    return render(request, "monitoring/outcomes/questionnaire.html", context)


@never_cache
@require_http_methods(["GET"])
def questionnaire_done(request, token):
    session, refusal = _session_for(request, token)
    if refusal:
        return refusal
    scores = list(OutcomeScore.objects.filter(session=session))
    if not scores:
        return redirect("monitoring:questionnaire", token=token)
    context = {
        **_appointment(session),
        "token": token,
        "safety": any(s.safety_positive for s in scores),
        "crisis_line": settings.CRISIS_LINE_TEXT,
    }
    return render(request, "monitoring/outcomes/questionnaire_done.html", context)


# --- Session day: the clinician's rating and the safety acknowledgement -------------------


@_action("monitoring.record_outcomes")
def rating_record(request, pk):
    session = _get_session(pk)
    code = request.POST.get("instrument", "")
    if code not in instruments.INSTRUMENTS:
        raise Http404("No such scale.")
    form = InstrumentForm(request.POST, instrument=instruments.get(code))
    if form.is_valid():
        try:
            services_outcomes.rating_record(
                session=session, user=request.user, instrument=code, answers=form.answers(), request=request
            )
        except ValidationError as exc:
            return _render_day(request, session, status=400, rating_form=form, errors=_apply_errors(form, exc))
        return _done(request, session, _("%(scale)s saved.") % {"scale": instruments.get(code).name})
    return _render_day(request, session, status=400, rating_form=form)


@_action("monitoring.override_block")
def safety_acknowledge(request, pk, score_pk):
    session = _get_session(pk)
    score = get_object_or_404(OutcomeScore, pk=score_pk, session=session)
    form = SafetyAckForm(request.POST)
    if form.is_valid():
        try:
            services_outcomes.safety_acknowledge(
                score=score, user=request.user, note=form.cleaned_data["note"], request=request
            )
        except ValidationError as exc:
            return _render_day(request, session, status=400, ack_form=form, errors=_apply_errors(form, exc))
        return _done(request, session, _("Safety answer acknowledged: dosing may go ahead once the other checks pass."))
    return _render_day(request, session, status=400, ack_form=form)


# --- Antidepressant history and eligibility ---------------------------------------------


def _render_history(request, patient, status=200, **forms):
    protocols = selectors_outcomes.trd_protocols()
    ctx = {
        "patient": patient,
        "trials": selectors_outcomes.patient_trials(patient),
        "eligibility": [
            (p, selectors_outcomes.eligibility_reasons(patient=patient, protocol=p, overrides=False)) for p in protocols
        ],
        "overrides": selectors_outcomes.eligibility_overrides(patient),
        "trial_form": forms.get("trial_form") or TrialForm(),
        "override_form": forms.get("override_form") or EligibilityOverrideForm(protocols=protocols),
    }
    return render(request, "monitoring/outcomes/history.html", ctx, status=status)


@login_required
@permission_required("monitoring.record_outcomes", raise_exception=True)
@require_http_methods(["GET", "POST"])
def patient_history(request, pk):
    """The patient's antidepressant trials and current antidepressant (a new one is added here)."""
    patient = get_object_or_404(Patient, pk=pk)
    if request.method == "POST":
        form = TrialForm(request.POST)
        if form.is_valid():
            try:
                services_outcomes.trial_add(patient=patient, user=request.user, request=request, **form.cleaned_data)
            except ValidationError as exc:
                return _render_history(request, patient, status=400, trial_form=form, errors=_apply_errors(form, exc))
            messages.success(request, _("Antidepressant added."))
            return redirect("monitoring:patient-history", pk=patient.pk)
        return _render_history(request, patient, status=400, trial_form=form)
    response = _render_history(request, patient)
    audit_record(action=AuditAction.VIEW, request=request, obj=patient, summary={"page": "antidepressant-history"})
    return response


@_action("monitoring.override_block")
def eligibility_override(request, pk):
    patient = get_object_or_404(Patient, pk=pk)
    form = EligibilityOverrideForm(request.POST, protocols=selectors_outcomes.trd_protocols())
    if form.is_valid():
        try:
            services_outcomes.eligibility_override(
                patient=patient,
                protocol=form.cleaned_data["protocol"],
                user=request.user,
                reason=form.cleaned_data["reason"],
                request=request,
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
            return _render_history(request, patient, status=400, override_form=form)
        messages.success(request, _("Override recorded: a course of this protocol can be started."))
        return redirect("monitoring:patient-history", pk=patient.pk)
    return _render_history(request, patient, status=400, override_form=form)


# --- The outcomes report ----------------------------------------------------------------


def _report_filter(request) -> OutcomesFilterForm:
    today = timezone.localdate()
    data = request.GET.copy() if request.GET else {}
    data.setdefault("start", (today.replace(day=1, month=1)).isoformat())
    data.setdefault("end", today.isoformat())
    return OutcomesFilterForm(data)


def _report_summary(form: OutcomesFilterForm) -> dict:
    """The filter as the audit trail records it (the cleaned values: never the raw query)."""
    if not form.is_valid():
        return {"valid": False}
    data = form.cleaned_data
    protocol = data["protocol"]
    return {"start": data["start"], "end": data["end"], "protocol": protocol.pk if protocol else None}


def _report(form: OutcomesFilterForm):
    if not form.is_valid():
        return None
    data = form.cleaned_data
    return selectors_outcomes.outcomes_report(start=data["start"], end=data["end"], protocol=data["protocol"])


@login_required
@permission_required("monitoring.view_reports", raise_exception=True)
def outcomes_report(request):
    form = _report_filter(request)
    report = _report(form)
    ctx = {"form": form, "report": report, "charts": outcomes_panels.report_chart(report or [])}
    response = render(request, "monitoring/outcomes/report.html", ctx)
    audit_record(
        action=AuditAction.VIEW,
        request=request,
        object_type="outcomes_report",
        summary={"filter": _report_summary(form)},
    )
    return response


@login_required
@permission_required("monitoring.view_reports", raise_exception=True)
def outcomes_csv(request):
    form = _report_filter(request)
    report = _report(form)
    if report is None:
        raise Http404("Invalid report period")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="outcomes.csv"'
    writer = csv.writer(response)
    writer.writerow(["protocol", "instrument", "courses", "measure", "count", "evaluable", "missing", "percent"])
    for row in report:
        name = row.protocol.name
        for rate in row.rates:
            percent = "" if rate.percent is None else rate.percent
            writer.writerow(
                [f"'{name}" if name[:1] in ("=", "+", "-", "@") else name, row.instrument.name, row.courses]
                + [rate.label, rate.count, rate.evaluable, rate.missing, percent]
            )
    audit_record(
        action=AuditAction.EXPORT,
        request=request,
        object_type="outcomes_report",
        summary={"filter": _report_summary(form), "format": "csv"},
    )
    return response
