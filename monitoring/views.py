from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from clinic.audit import audit_record
from clinic.auth import role_permission_required
from clinic.errors import NoSiteYet
from clinic.jinja2 import Partial, Rendered, choice_labels, url_with_pk
from clinic.models import AuditAction, Site
from clinic.page_cache import kept
from clinic.roles import ALERT_AUDIENCES, user_role
from clinic.selectors import all_sites, site_with_id
from scheduling.models import Session, SessionStatus

from . import charts, outcomes_panels, rules, selectors, selectors_board, services
from .forms import (
    AddendumForm,
    AdverseEventForm,
    CheckInForm,
    CorrectionForm,
    DeviceForm,
    DischargeForm,
    DoseForm,
    DoseStopForm,
    InfusionEndForm,
    OverrideForm,
    RemsSubmittedForm,
    VitalsForm,
    local_datetime,
)
from .models import AdverseEvent, CheckIn, VitalsReading

# --- Board ----------------------------------------------------------------------------

BOARD_AUDIENCES = ("nurse", "prescriber")  # the nurses' alerts, and the prescribers' to a prescriber


def _board_sites(request) -> tuple[Site, list[Site]]:
    """The site asked for (else the first one) and every site, for the site picker."""
    sites = all_sites()
    if not sites:
        raise NoSiteYet
    return site_with_id(sites, request.GET.get("site")) or sites[0], sites


def _board_rows(site) -> dict:
    """The board's rows of ``site`` rendered, with the time they were read (``now``, printed
    under the table), the site's day and the thresholds they were decided by: computed, or the
    copy computed less than ``PAGE_CACHE_SECONDS`` ago with no change recorded since
    (clinic.page_cache: every tablet asks for the board every five seconds). The rows are a
    Jinja2 partial; measured with 40 sessions in four states, mean of 30 renders on a shared
    2-core machine: the table in the Django template language 8-12 ms, a quarter to a third
    of the request; the rows in this Jinja2 template 2.4 ms (5.5 ms under heavier load)."""

    def compute() -> dict:
        ctx = selectors_board.board_days(site=site)
        rows = Partial(
            "monitoring/_board_rows.html",
            {
                "days": ctx.pop("days"),
                "tz": site.tzinfo,
                "day_url": url_with_pk("monitoring:session-day"),
                "status_labels": choice_labels(SessionStatus.choices),
            },
        )
        return {**ctx, "board_rows": Rendered(rows.rendered())}

    # The rows are written in the language and the time zone of the page; nothing else in
    # them depends on who asks.
    key = f"board:{get_language()}:{site.pk}:{site.time_zone}"
    return kept(key, settings.PAGE_CACHE_SECONDS, compute)


def _board_context(request, site) -> dict:
    """The board of ``site``: its rows (``_board_rows``) and the open alerts the user reads."""
    audiences = ALERT_AUDIENCES.get(user_role(request.user), ())
    shown = ("nurse",) + tuple(a for a in audiences if a in BOARD_AUDIENCES and a != "nurse")
    ctx = _board_rows(site)
    ctx["alerts"] = selectors_board.board_alerts(site=site, audiences=shown)
    ctx["site"] = site
    # Every role reads the nurses' alerts on the board; those whose alerts they are may acknowledge them.
    ctx["can_acknowledge"] = "nurse" in audiences
    return ctx


@login_required
@permission_required("monitoring.view_board", raise_exception=True)
def board(request):
    site, sites = _board_sites(request)
    ctx = _board_context(request, site)
    ctx["sites"] = sites
    response = render(request, "monitoring/board.html", ctx)
    # Audited once the page is rendered: the audit trail's append lock is held from here to the
    # end of the request, so it covers the insert and the commit, not the rendering.
    audit_record(action=AuditAction.VIEW, request=request, obj=site, object_type="board", summary={"site": site.pk})
    return response


@login_required
@permission_required("monitoring.view_board", raise_exception=True)
def board_partial(request):
    """The board's table, fetched by htmx every few seconds."""
    site, _ = _board_sites(request)
    response = render(request, "monitoring/board_table.html", _board_context(request, site))
    # Each refresh shows the patients on the board as they are now: audited like the page.
    audit_record(
        action=AuditAction.VIEW,
        request=request,
        obj=site,
        object_type="board",
        summary={"site": site.pk, "refresh": True},
    )
    return response


# --- Session day ----------------------------------------------------------------------


def _get_session(pk) -> Session:
    """The session with its chair, site and patient (404 if there is none)."""
    return get_object_or_404(Session.objects.select_related("chair__site", "patient"), pk=pk)


# The step of the session day each action's form belongs to: after a refusal the page opens that
# step, shows why there, and the form's address (``#<step>``) lands the browser on it.
ACTION_STEPS = {
    "check-in": "check_in",
    "predose-override": "pre_dose",
    "dose-record": "dose",
    "device-record": "dose",
    "infusion-end": "dose",
    "dose-stop": "dose",
    "first-dose-override": "dose",
    "vitals-correct": "observation",
    "discharge-override": "discharge",
    "discharge": "discharge",
    "session-addendum": "discharge",
    "adverse-event": "adverse_events",
}


def _failed_step(request, day) -> str | None:
    """The step whose form was just refused (None on a plain page view)."""
    if request.method != "POST" or request.resolver_match is None:
        return None
    name = request.resolver_match.url_name
    if name == "vitals-record":
        return "observation" if day.in_observation else "pre_dose"
    return ACTION_STEPS.get(name)


def _render_day(request, session, status=200, **forms):
    day = selectors.session_day(session.pk)
    transport = day.transport
    checkin = day.checkin
    next_key = day.next_checkpoint.key if day.next_checkpoint else rules.EXTRA
    initial_checkin = {name: getattr(checkin, name) for name in CheckIn.CHECKLIST} if checkin else {}
    if transport is not None and transport.is_confirmed:
        initial_checkin.setdefault("transport_confirmed", True)
    initial_checkin["rems_enrolment_checked"] = session.patient.is_rems_enrolled and initial_checkin.get(
        "rems_enrolment_checked", True
    )
    events = list(day.session.adverse_events.all())
    ctx = {
        "day": day,
        "session": day.session,
        "patient": day.session.patient,
        "readings": selectors.all_readings(session),
        "events": events,
        "devices": day.devices,
        "chart": charts.observation_chart(day.readings, day.t, day.observation),
        "checkin_form": forms.get("checkin_form") or CheckInForm(initial=initial_checkin),
        "vitals_form": forms.get("vitals_form")
        or VitalsForm(checkpoints=day.checkpoint_choices(), initial={"checkpoint": next_key}),
        "override_form": forms.get("override_form") or OverrideForm(),
        "dose_form": forms.get("dose_form") or DoseForm(initial={"dose_mg": session.planned_dose_mg}),
        "event_form": forms.get("event_form") or AdverseEventForm(),
        "device_form": forms.get("device_form") or DeviceForm(),
        "infusion_form": forms.get("infusion_form") or InfusionEndForm(),
        "stop_form": forms.get("stop_form") or DoseStopForm(events=events),
        "first_dose_form": forms.get("first_dose_form") or OverrideForm(),
        "addendum_form": forms.get("addendum_form") or AddendumForm(),
        "addenda": list(day.session.addenda.all()),
        "discharge_form": forms.get("discharge_form")
        or DischargeForm(
            initial={
                "picked_up_by": transport.name if transport else "",
                "picked_up_relationship": transport.relationship if transport else "",
            }
        ),
        "correction": forms.get("correction"),
        "errors": forms.get("errors", []),
        "failed_step": _failed_step(request, day),
        "discharge_missing": forms.get("discharge_missing"),
        "next_device_at": day.next_device_at,
        "outcomes": outcomes_panels.session_panel(day.session, forms=forms, request=request),
    }
    return render(request, "monitoring/session_day.html", ctx, status=status)


def _done(request, session, message):
    messages.success(request, message)
    return redirect("monitoring:session-day", pk=session.pk)


def _errors(exc: ValidationError) -> list[str]:
    return [m for m in exc.messages]


@login_required
@permission_required("monitoring.view_board", raise_exception=True)
def session_day(request, pk):
    session = _get_session(pk)
    response = _render_day(request, session)
    audit_record(action=AuditAction.VIEW, request=request, obj=session, summary={"page": "session-day"})
    return response


def _action(perm="monitoring.record_vitals"):
    """Decorators of every POST action: signed in, POST only, then the permission, held
    through a role (a superuser without the clinical role records nothing)."""

    def wrap(view):
        return login_required(require_POST(role_permission_required(perm)(view)))

    return wrap


@_action()
def check_in(request, pk):
    session = _get_session(pk)
    form = CheckInForm(request.POST)
    if form.is_valid():
        try:
            checkin = services.session_check_in(
                session=session,
                user=request.user,
                arrived_at=local_datetime(form.cleaned_data["arrived_at"], session=session),
                checklist=form.checklist(),
                transport=form.transport(),
                notes=form.cleaned_data["notes"],
                request=request,
            )
        except ValidationError as exc:
            return _render_day(request, session, checkin_form=form, errors=_apply_errors(form, exc))
        missing = checkin.checklist_missing()
        if missing:
            messages.warning(request, _("Checklist incomplete: %(missing)s.") % {"missing": "; ".join(missing)})
        return _done(request, session, _("Checked in."))
    return _render_day(request, session, checkin_form=form)


def _apply_errors(form, exc: ValidationError) -> list[str]:
    """A service's refusal beside the form's fields (its other messages above the form)."""
    if hasattr(exc, "error_dict"):
        for field, errs in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errs)
        return []
    return _errors(exc)


@_action()
def vitals_record(request, pk):
    # What the form accepts depends on the observation and its protocol, not on the readings:
    # no need to assemble the whole session day. Read under the row lock the service needs, so
    # it does not read the session again.
    found = selectors.session_for_reading(pk)
    if found is None:
        raise Http404("No such session.")
    session, t = found
    form = VitalsForm(request.POST, checkpoints=selectors.checkpoint_choices(session, t))
    if form.is_valid():
        kind, minute = form.kind_and_minute()
        try:
            reading = services.vitals_record(
                session=session,
                user=request.user,
                kind=kind,
                checkpoint_minute=minute,
                values=form.values(),
                taken_at=local_datetime(form.cleaned_data["taken_at"], session=session),
                notes=form.cleaned_data["notes"],
                t=t,
                locked=True,
                request=request,
            )
        except ValidationError as exc:
            return _render_day(request, session, vitals_form=form, errors=_apply_errors(form, exc))
        if reading.flags:
            messages.warning(
                request,
                _("Reading saved and flagged: %(flags)s") % {"flags": ", ".join(_(f["label"]) for f in reading.flags)},
            )
            return redirect("monitoring:session-day", pk=session.pk)
        return _done(request, session, _("Reading saved."))
    return _render_day(request, session, vitals_form=form)


@_action()
def vitals_correct(request, pk, reading_pk):
    session = _get_session(pk)
    reading = get_object_or_404(VitalsReading, pk=reading_pk, session=session)
    form = CorrectionForm(request.POST)
    if form.is_valid():
        try:
            services.vitals_correct(
                reading=reading,
                user=request.user,
                values=form.values(),
                reason=form.cleaned_data["reason"],
                notes=form.cleaned_data["notes"],
                request=request,
            )
        except ValidationError as exc:
            return _render_day(request, session, correction=(reading.pk, form), errors=_apply_errors(form, exc))
        return _done(request, session, _("Correction saved; the original reading stays on the record."))
    return _render_day(request, session, correction=(reading.pk, form))


@_action("monitoring.override_block")
def predose_override(request, pk):
    session = _get_session(pk)
    form = OverrideForm(request.POST)
    if form.is_valid():
        try:
            services.predose_override(
                session=session, user=request.user, reason=form.cleaned_data["reason"], request=request
            )
        except ValidationError as exc:
            return _render_day(request, session, override_form=form, errors=_apply_errors(form, exc))
        waiting = services.dosing_blocks(session)  # the safety item's wait outlives an override
        if waiting:
            return _done(
                request,
                session,
                _("Override recorded. Dosing still waits: %(waiting)s.") % {"waiting": "; ".join(waiting)},
            )
        return _done(request, session, _("Override recorded: dosing may start."))
    return _render_day(request, session, override_form=form)


@_action("monitoring.override_block")
def discharge_override(request, pk):
    session = _get_session(pk)
    form = OverrideForm(request.POST)
    if form.is_valid():
        try:
            services.discharge_vitals_override(
                session=session, user=request.user, reason=form.cleaned_data["reason"], request=request
            )
        except ValidationError as exc:
            return _render_day(request, session, errors=_apply_errors(form, exc))
        return _done(request, session, _("Before-discharge vitals accepted by prescriber override."))
    return _render_day(request, session, errors=[_("Write the reason for the override.")])


@_action()
def dose_record(request, pk):
    session = _get_session(pk)
    form = DoseForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.dose_record(
                session=session,
                user=request.user,
                dose_mg=session.planned_dose_mg if data["dose_mg"] is None else data["dose_mg"],
                lot_number=data["lot_number"],
                weight_kg=data["weight_kg"],
                mg_per_kg=data["mg_per_kg"],
                started_at=local_datetime(data["started_at"], session=session),
                request=request,
            )
        except ValidationError as exc:
            return _render_day(request, session, dose_form=form, errors=_apply_errors(form, exc))
        return _done(request, session, _("Dosing started: the observation has begun."))
    return _render_day(request, session, dose_form=form)


@_action()
def device_record(request, pk):
    session = _get_session(pk)
    form = DeviceForm(request.POST)
    if form.is_valid():
        try:
            device = services.dose_device_record(
                session=session,
                user=request.user,
                administered_at=local_datetime(form.cleaned_data["administered_at"], session=session),
                request=request,
            )
        except ValidationError as exc:
            return _render_day(request, session, device_form=form, errors=_apply_errors(form, exc))
        return _done(request, session, _("Device %(number)s recorded.") % {"number": device.number})
    return _render_day(request, session, device_form=form)


@_action("monitoring.override_block")
def first_dose_override(request, pk):
    session = _get_session(pk)
    form = OverrideForm(request.POST)
    if form.is_valid():
        try:
            services.first_dose_override(
                session=session, user=request.user, reason=form.cleaned_data["reason"], request=request
            )
        except ValidationError as exc:
            return _render_day(request, session, first_dose_form=form, errors=_apply_errors(form, exc))
        return _done(request, session, _("Override recorded: another first dose may be given."))
    return _render_day(request, session, first_dose_form=form)


@_action()
def dose_stop(request, pk):
    session = _get_session(pk)
    form = DoseStopForm(
        request.POST, events=AdverseEvent.objects.filter(session=session).select_related("session__chair__site")
    )
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.dose_stop_early(
                session=session,
                user=request.user,
                cause=data["cause"],
                adverse_event_id=data["adverse_event"],
                note=data["note"],
                request=request,
            )
        except ValidationError as exc:
            return _render_day(request, session, stop_form=form, errors=_apply_errors(form, exc))
        return _done(request, session, _("Recorded why dosing stopped early."))
    return _render_day(request, session, stop_form=form)


@_action()
def infusion_end(request, pk):
    session = _get_session(pk)
    form = InfusionEndForm(request.POST)
    if form.is_valid():
        try:
            services.dose_infusion_end(
                session=session,
                user=request.user,
                ended_at=local_datetime(form.cleaned_data["ended_at"], session=session),
                request=request,
            )
        except ValidationError as exc:
            return _render_day(request, session, infusion_form=form, errors=_apply_errors(form, exc))
        return _done(request, session, _("Infusion end recorded."))
    return _render_day(request, session, infusion_form=form)


@_action()
def adverse_event(request, pk):
    session = _get_session(pk)
    form = AdverseEventForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.adverse_event_record(
                session=session,
                user=request.user,
                kind=data["kind"],
                severity=data["severity"],
                serious=data["serious"],
                description=data["description"],
                action_taken=data["action_taken"],
                onset_at=local_datetime(data["onset_at"], session=session),
                request=request,
            )
        except ValidationError as exc:
            return _render_day(request, session, event_form=form, errors=_apply_errors(form, exc))
        return _done(request, session, _("Adverse event recorded."))
    return _render_day(request, session, event_form=form)


@_action()
def discharge(request, pk):
    session = _get_session(pk)
    form = DischargeForm(request.POST)
    if not form.is_valid():
        return _render_day(request, session, discharge_form=form)
    data = form.cleaned_data
    try:
        services.observation_discharge(
            session=session,
            user=request.user,
            alert=data["alert"],
            oriented=data["oriented"],
            steady=data["steady"],
            picked_up_by=data["picked_up_by"],
            picked_up_relationship=data["picked_up_relationship"],
            would_have_been_ready_at=local_datetime(data["would_have_been_ready_at"], session=session),
            notes=data["notes"],
            request=request,
        )
    except services.DischargeRefused as exc:
        return _render_day(request, session, discharge_form=form, discharge_missing=list(exc.gate.missing))
    except ValidationError as exc:
        return _render_day(request, session, discharge_form=form, errors=_apply_errors(form, exc))
    return _done(request, session, _("%(name)s is discharged.") % {"name": session.patient.full_name})


# --- REMS -----------------------------------------------------------------------------


def _get_rems_session(pk) -> Session:
    try:
        return selectors.rems_session(pk)
    except Session.DoesNotExist:
        raise Http404("No such session") from None


def _render_rems(request, session, *, form=None, addendum_form=None, status=200):
    record = selectors.rems_record(session)
    ctx = {
        "record": record,
        "session": session,
        "form": form or RemsSubmittedForm(initial={"submitted_on": session.chair.site.local_today()}),
        "addendum_form": addendum_form or AddendumForm(fields=rules.rems_addendable_choices(record.fields)),
        "addenda": list(session.addenda.all()),
    }
    return render(request, "monitoring/rems_record.html", ctx, status=status)


@login_required
@permission_required("monitoring.view_reports", raise_exception=True)
def rems_record(request, pk):
    session = _get_rems_session(pk)
    response = _render_rems(request, session)
    audit_record(action=AuditAction.VIEW, request=request, obj=session, summary={"page": "rems-record"})
    return response


@_action("monitoring.submit_rems")
def rems_addendum(request, pk):
    """Supply a missing field of the REMS record afterwards (who, when, why)."""
    session = _get_rems_session(pk)
    choices = rules.rems_addendable_choices(selectors.rems_record(session).fields)
    form = AddendumForm(request.POST, fields=choices)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.addendum_record(
                session=session,
                user=request.user,
                field=data["field"],
                value=data["value"],
                reason=data["reason"],
                request=request,
            )
        except ValidationError as exc:
            for message in _apply_errors(form, exc):
                form.add_error(None, message)
        else:
            label = dict(choices).get(data["field"], data["field"])
            messages.success(request, _("Addendum recorded: %(field)s.") % {"field": label})
            return redirect("monitoring:rems-record", pk=session.pk)
    return _render_rems(request, session, addendum_form=form)


@_action()
def session_addendum(request, pk):
    """A fact of the day remembered after the discharge, with the reason."""
    session = _get_session(pk)
    form = AddendumForm(request.POST)
    if form.is_valid():
        try:
            services.addendum_record(
                session=session,
                user=request.user,
                value=form.cleaned_data["value"],
                reason=form.cleaned_data["reason"],
                request=request,
            )
        except ValidationError as exc:
            return _render_day(request, session, addendum_form=form, errors=_apply_errors(form, exc))
        return _done(request, session, _("Addendum recorded."))
    return _render_day(request, session, addendum_form=form)


@_action("monitoring.submit_rems")
def rems_submit(request, pk):
    session = _get_rems_session(pk)
    form = RemsSubmittedForm(request.POST)
    if form.is_valid():
        try:
            services.rems_mark_submitted(
                session=session,
                user=request.user,
                submitted_on=form.cleaned_data["submitted_on"],
                reference=form.cleaned_data["reference"],
                request=request,
            )
        except ValidationError as exc:
            for message in _apply_errors(form, exc):
                form.add_error(None, message)
        else:
            messages.success(request, _("REMS monitoring record marked as submitted."))
            return redirect("monitoring:rems-record", pk=session.pk)
    return _render_rems(request, session, form=form)


@login_required
@permission_required("monitoring.view_reports", raise_exception=True)
def rems_worklist(request):
    records = selectors.rems_worklist(today_for=lambda s: s.chair.site.local_today())
    response = render(request, "monitoring/rems_worklist.html", {"records": records})
    audit_record(action=AuditAction.VIEW, request=request, object_type="rems_worklist")
    return response
