import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from clinic import registry
from clinic.audit import audit_record
from clinic.errors import NoSiteYet
from clinic.formats import when
from clinic.jinja2 import Partial, Rendered
from clinic.models import AuditAction, Chair, Patient
from clinic.page_cache import kept

from . import forms, rules, selectors, services
from .models import Course, Session, SessionStatus, TransportArrangement

VIEW = "scheduling.view_schedule"
BOOK = "scheduling.book_session"
REVIEW = "scheduling.review_course"


def _date_param(request, name: str, today: dt.date) -> dt.date:
    """The day a schedule page shows: the query parameter when it is a day the pages cover,
    else today (with a note when the day was out of range)."""
    value = request.GET.get(name)
    try:
        day = dt.date.fromisoformat(value) if value else today
    except ValueError:
        return today
    if not rules.viewable_day(day, today):
        first, last = rules.viewable_range(today)
        messages.warning(
            request,
            _("The schedule shows days from %(first)s up to %(last)s: showing today.")
            % {"first": when(first, "plain_date"), "last": when(last, "plain_date")},
        )
        return today
    return day


def _get_site(request):
    site = selectors.site_choice(request.GET.get("site"))
    if site is None:
        raise NoSiteYet
    return site


def _get_session(pk) -> Session:
    return get_object_or_404(selectors.session_for_page(pk))


# --- Schedule pages -------------------------------------------------------------------


def _grid_table(grid: selectors.Grid) -> Partial:
    """The grid's table, in Jinja2: a week is some 300 sessions in 1,700 cells. Measured on a
    week of 288 sessions in 84 columns and 20 rows, building the grid included, min-median of
    60 runs: this template 4.0-6.6 ms; the same template in the Django template language
    20-25 ms; the HTML strings it replaced 1.7-3.5 ms."""
    return Partial("scheduling/_grid_table.html", {"grid": grid})


def _schedule_context(site, *, first_day: dt.date, days: int, step: int, today: dt.date) -> dict:
    """The grid of ``days`` days from ``first_day`` with its table rendered, the sessions
    beside it and the time it was read (``as_of``, printed under it): computed, or the copy
    computed less than ``PAGE_CACHE_SECONDS`` ago with no change made through the app since
    (clinic.page_cache; profile of the week without it: README, Performance)."""

    def compute() -> dict:
        as_of = timezone.localtime(timezone.now(), site.tzinfo)
        grid, cancelled = selectors.schedule_grid(site=site, first_day=first_day, days=days, step=step, today=today)
        return {
            "grid": {"off_grid": grid.off_grid, "chairs_per_day": grid.chairs_per_day},
            "grid_table": Rendered(_grid_table(grid).rendered()),
            "cancelled": cancelled,
            "as_of": as_of,
        }

    # Written in the page's language and the site's time zone; nothing in it depends on who asks.
    key = f"schedule:{get_language()}:{site.pk}:{site.time_zone}:{first_day}:{days}:{step}:{today}"
    return {"site": site, "tz": site.tzinfo, "today": today, **kept(key, settings.PAGE_CACHE_SECONDS, compute)}


@login_required
@permission_required(VIEW, raise_exception=True)
def day(request):
    site = _get_site(request)
    today = site.local_today()
    date = _date_param(request, "date", today)
    ctx = _schedule_context(site, first_day=date, days=1, step=15, today=today)
    ctx.update(date=date, prev=date - dt.timedelta(days=1), next=date + dt.timedelta(days=1))
    response = render(request, "scheduling/day.html", ctx)
    # Audited once the page is rendered: the audit trail's append lock is held from here to the
    # end of the request, so it covers the insert and the commit, not the rendering.
    audit_record(action=AuditAction.VIEW, request=request, object_type="schedule_day", summary={"date": str(date)})
    return response


@login_required
@permission_required(VIEW, raise_exception=True)
def week(request):
    site = _get_site(request)
    today = site.local_today()
    start = _date_param(request, "start", today)
    start -= dt.timedelta(days=start.weekday())
    ctx = _schedule_context(site, first_day=start, days=7, step=30, today=today)
    ctx.update(start=start, prev=start - dt.timedelta(days=7), next=start + dt.timedelta(days=7))
    response = render(request, "scheduling/week.html", ctx)
    audit_record(action=AuditAction.VIEW, request=request, object_type="schedule_week", summary={"start": str(start)})
    return response


@login_required
@permission_required(VIEW, raise_exception=True)
def transport_list(request):
    sessions = list(selectors.rides_unconfirmed(site=None))
    audit_record(
        action=AuditAction.VIEW, request=request, object_type="transport_list", summary={"count": len(sessions)}
    )
    return render(request, "scheduling/transport_list.html", {"sessions": sessions})


# --- Course wizard --------------------------------------------------------------------


def _setup_hidden(data: dict) -> list[tuple[str, str]]:
    """Step 1 answers, carried through the preview as hidden inputs."""
    pairs = [
        ("protocol", data["protocol"].pk),
        ("start_date", data["start_date"].isoformat()),
        ("start_time", when(data["start_time"], "iso_time")),
        ("chair", data["chair"].pk),
    ]
    pairs += [("weekdays", d) for d in data["weekdays"]]
    return pairs


def _preview_rows(*, patient, site, setup, proposals) -> list[dict]:
    """Initial data for the preview: the preferred chair when free, else the first free chair;
    each row's remaining problems shown beside it."""
    chairs = list(Chair.objects.filter(site=site, active=True).order_by("name"))
    preferred = setup["chair"]
    calendar = services.SiteCalendar.load(site, start=setup["start_date"])
    rows = []
    for p in proposals:
        note = ""
        chosen, problems = services.first_free_chair(
            patient=patient,
            preferred=preferred,
            chairs=chairs,
            start=p.start,
            end=p.end,
            calendar=calendar,
            min_days_between=p.min_days_between,
        )
        chosen = chosen or preferred
        notes = []
        if chosen.pk != preferred.pk:
            notes.append(
                _("%(preferred)s is taken: %(chosen)s offered.") % {"preferred": preferred.name, "chosen": chosen.name}
            )
        notes += [p.reason, rules.clock_note(p.date, setup["start_time"], site.tzinfo)]
        if p.review_follows:
            notes.append(_("The course pauses after this session for the prescriber's review."))
        note = " ".join(n for n in notes if n)
        rows.append(
            {
                "initial": {
                    "include": True,
                    "date": p.date,
                    "time": p.start.time().replace(tzinfo=None),
                    "chair": chosen.pk,
                },
                "problems": [m for e in problems for m in e.messages],
                "note": note,
            }
        )
    return rows


def _render_preview(request, *, patient, site, setup, formset, proposals, problems=None, notes=None):
    count = len(formset.forms)
    rows = list(zip(formset.forms, proposals, problems or [[]] * count, notes or [""] * count, strict=True))
    ctx = {
        "patient": patient,
        "site": site,
        "tz": site.tzinfo,
        "setup": setup,
        "hidden": _setup_hidden(setup),
        "formset": formset,
        "rows": rows,
    }
    return render(request, "scheduling/course_preview.html", ctx)


def _preview(request, *, patient, site, setup, proposals, chairs):
    rows = _preview_rows(patient=patient, site=site, setup=setup, proposals=proposals)
    formset = forms.ProposalFormSet(
        initial=[r["initial"] for r in rows], prefix="rows", chairs=chairs, today=site.local_today(), tz=site.tzinfo
    )
    return _render_preview(
        request,
        patient=patient,
        site=site,
        setup=setup,
        formset=formset,
        proposals=proposals,
        problems=[r["problems"] for r in rows],
        notes=[r["note"] for r in rows],
    )


@login_required
@permission_required(BOOK, raise_exception=True)
def course_create(request):
    patient_id = request.GET.get("patient", "")
    if not patient_id.isdigit():
        messages.info(request, _("Choose the patient, then press “Start a treatment course” on their page."))
        return redirect("clinic:patient-list")
    patient = get_object_or_404(Patient.objects.select_related("site"), pk=patient_id)
    site = patient.site or _get_site(request)
    setup_form = forms.CourseSetupForm(request.POST or None, site=site)
    step = request.POST.get("step")
    if request.method == "POST" and setup_form.is_valid():
        setup = setup_form.cleaned_data
        try:
            services.check_patient(patient=patient, protocol=setup["protocol"])
            calendar = services.SiteCalendar.load(site, start=setup["start_date"])
            proposals = rules.generate_schedule(
                phases=setup_form.phase_specs(),
                start_date=setup["start_date"],
                weekdays=setup["weekdays"],
                start_time=setup["start_time"],
                opening_hours=calendar.opening_hours,
                closures=calendar.closures,
                tz=site.tzinfo,
                now=timezone.now(),
            )
        except ValidationError as exc:
            setup_form.add_error(None, exc)
        except rules.ScheduleError as exc:
            setup_form.add_error(None, str(exc))
        else:
            chairs = Chair.objects.filter(site=site, active=True).order_by("name")
            args = {"patient": patient, "site": site, "setup": setup, "proposals": proposals, "chairs": chairs}
            if step == "confirm":
                return _course_confirm(request, **args)
            return _preview(request, **args)
    if request.method == "GET":
        audit_record(action=AuditAction.VIEW, request=request, obj=patient, summary={"page": "course-create"})
    ctx = {"patient": patient, "form": setup_form, "screening": patient.screening(), "tz": site.tzinfo}
    if setup_form.has_error(NON_FIELD_ERRORS, "course_active"):
        ctx["active_course"] = services.active_course(patient=patient, drug=setup_form.cleaned_data["protocol"].drug)
    return render(request, "scheduling/course_form.html", ctx)


def _course_confirm(request, *, patient, site, setup, proposals, chairs):
    """Book the ticked rows. Each row is the proposal of the same place, generated again from
    the protocol: its phase (so its length and dose) is the protocol's, whatever was posted."""
    formset = forms.ProposalFormSet(
        request.POST, prefix="rows", chairs=chairs, today=site.local_today(), tz=site.tzinfo
    )
    if formset.total_form_count() != len(proposals):
        messages.error(request, _("The proposed sessions have changed: check them again, then confirm."))
        return _preview(request, patient=patient, site=site, setup=setup, proposals=proposals, chairs=chairs)
    if not formset.is_valid():
        return _render_preview(request, patient=patient, site=site, setup=setup, formset=formset, proposals=proposals)
    kept = [(i, f.cleaned_data) for i, f in enumerate(formset.forms) if f.cleaned_data.get("include")]
    bookings = [
        services.PlannedBooking(
            start=rules.local_datetime(d["date"], d["time"], site.tzinfo),
            chair=d["chair"],
            phase_order=proposals[i].phase_order,
            sequence=n,
        )
        for n, (i, d) in enumerate(kept, start=1)
    ]
    try:
        course = services.course_confirm(
            patient=patient,
            protocol=setup["protocol"],
            site=site,
            start_date=setup["start_date"],
            weekdays=setup["weekdays"],
            start_time=setup["start_time"],
            preferred_chair=setup["chair"],
            bookings=bookings,
            user=request.user,
            request=request,
        )
    except ValidationError as exc:
        problems = [[] for _ in formset.forms]
        if hasattr(exc, "error_dict"):
            for key, errors in exc.error_dict.items():
                problems[kept[int(key)][0]] = [m for e in errors for m in e.messages]
            messages.error(request, _("Nothing was booked: fix the sessions marked below, or untick them."))
        else:
            messages.error(request, " ".join(exc.messages))
        return _render_preview(
            request,
            patient=patient,
            site=site,
            setup=setup,
            formset=formset,
            proposals=proposals,
            problems=problems,
        )
    messages.success(
        request,
        _("Course started: %(count)d sessions booked for %(patient)s.")
        % {"count": len(bookings), "patient": patient.full_name},
    )
    return redirect(course)


def _render_course(request, course: Course, stop_form=None, status=200):
    sessions = selectors.course_timeline(course)
    replaced = {s.replaces_id for s in sessions if s.replaces_id}
    ctx = {
        "course": course,
        "tz": course.site.tzinfo,
        "sessions": sessions,
        "replaced": replaced,
        "now": timezone.now(),
        "can_replan": course.status == Course.Status.ACTIVE,
        "stop_form": stop_form or forms.CourseStopForm(),
        "panels": registry.course_panels(course=course, request=request),
    }
    return render(request, "scheduling/course_detail.html", ctx, status=status)


def _get_course(pk) -> Course:
    return get_object_or_404(Course.objects.select_related("patient", "protocol", "site", "preferred_chair"), pk=pk)


@login_required
@permission_required(VIEW, raise_exception=True)
def course_detail(request, pk):
    course = _get_course(pk)
    response = _render_course(request, course)
    audit_record(action=AuditAction.VIEW, request=request, obj=course)
    return response


@login_required
@require_POST
@permission_required(BOOK, raise_exception=True)
def course_stop(request, pk):
    course = _get_course(pk)
    form = forms.CourseStopForm(request.POST)
    if form.is_valid():
        try:
            cancelled = services.course_stop(
                course=course, reason=form.cleaned_data["reason"], user=request.user, request=request
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            n = len(cancelled)
            messages.success(
                request,
                ngettext(
                    "Course stopped; %(count)d session still to come cancelled.",
                    "Course stopped; %(count)d sessions still to come cancelled.",
                    n,
                )
                % {"count": n},
            )
            return redirect(course)
    return _render_course(request, course, stop_form=form)


@login_required
@require_POST
@permission_required(BOOK, raise_exception=True)
def course_replan(request, pk):
    course = get_object_or_404(Course, pk=pk)
    session_id = request.POST.get("session", "")
    missed = get_object_or_404(Session, pk=session_id if session_id.isdigit() else 0, course=course)
    try:
        changed = services.course_replan(course=course, missed=missed, user=request.user, request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(course)
    replacement = changed[0]
    moved = len(changed) - 1
    values = {"when": when(replacement.local_start(), "day_time"), "chair": replacement.chair.name, "count": moved}
    if moved:
        message = ngettext(
            "Made up on %(when)s in %(chair)s; %(count)d later session moved to keep the gaps.",
            "Made up on %(when)s in %(chair)s; %(count)d later sessions moved to keep the gaps.",
            moved,
        )
    else:
        message = _("Made up on %(when)s in %(chair)s.")
    messages.success(request, message % values)
    return redirect(course)


# --- The prescriber's review ------------------------------------------------------------


@login_required
@permission_required(REVIEW, raise_exception=True)
def review_list(request):
    courses = selectors.reviews_pending()
    response = render(request, "scheduling/review_list.html", {"courses": courses})
    audit_record(
        action=AuditAction.VIEW, request=request, object_type="course_reviews", summary={"count": len(courses)}
    )
    return response


@login_required
@permission_required(REVIEW, raise_exception=True)
def course_review(request, pk):
    course = _get_course(pk)
    position = selectors.review_position(course) if course.status == Course.Status.ACTIVE else None
    if position is None:
        messages.info(request, _("This course is not waiting for a prescriber's review."))
        return redirect(course)
    form = forms.CourseReviewForm(request.POST or None, decisions=position.decisions())
    if request.method == "POST" and form.is_valid():
        try:
            review = services.course_review_decide(
                course=course,
                decision=form.cleaned_data["decision"],
                note=form.cleaned_data["note"],
                user=request.user,
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            label = str(dict(position.decisions()).get(review.decision, review.get_decision_display()))
            messages.success(
                request, _("Decision recorded: %(decision)s.") % {"decision": label[:1].lower() + label[1:]}
            )
            return redirect(course)
    ctx = {
        "course": course,
        "tz": course.site.tzinfo,
        "form": form,
        "position": position,
        "sessions": selectors.course_timeline(course),
        "extras": registry.course_panels(course=course, request=request),
    }
    response = render(request, "scheduling/course_review.html", ctx)
    if request.method == "GET":
        audit_record(action=AuditAction.VIEW, request=request, obj=course, summary={"page": "review"})
    return response


# --- Session page and actions ---------------------------------------------------------


def _session_forms(session: Session, **bound) -> dict:
    site = session.chair.site
    local = session.local_start()
    transport = getattr(session, "transport", None)
    return {
        "move_form": bound.get("move_form")
        or forms.SessionMoveForm(
            site=site,
            initial={"date": local.date(), "time": local.time(), "chair": session.chair_id, "version": session.version},
        ),
        "cancel_form": bound.get("cancel_form") or forms.SessionCancelForm(initial={"version": session.version}),
        "no_show_form": forms.VersionForm(initial={"version": session.version}),
        "transport_form": bound.get("transport_form") or forms.TransportForm(instance=transport),
    }


def _render_session(request, session: Session, status=200, free_slots=None, **bound):
    slot_keys = ("move_scope", "all_chairs_taken", "asked", "slots_searched")
    extra = {key: bound.pop(key) for key in slot_keys if key in bound}
    ctx = {
        "free_slots": free_slots or [],
        **extra,
        "session": session,
        "tz": session.chair.site.tzinfo,
        "transport": getattr(session, "transport", None),
        "escorts": list(session.patient.escorts.all()),
        # Each reminder of the session with its state: sent when, or skipped and why.
        "reminders": list(session.reminders.all()),
        "can_book": request.user.has_perm(BOOK),
        "is_booked": session.status == SessionStatus.BOOKED,
        **_session_forms(session, **bound),
    }
    return render(request, "scheduling/session_detail.html", ctx, status=status)


@login_required
@permission_required(VIEW, raise_exception=True)
def session_detail(request, pk):
    session = _get_session(pk)
    response = _render_session(request, session)
    audit_record(action=AuditAction.VIEW, request=request, obj=session)
    return response


def _done(request, session: Session, message: str):
    messages.success(request, message)
    return redirect("scheduling:session-detail", session.pk)


@login_required
@require_POST
@permission_required(BOOK, raise_exception=True)
def session_move(request, pk):
    session = _get_session(pk)
    form = forms.SessionMoveForm(request.POST, site=session.chair.site)
    if not form.is_valid():
        return _render_session(request, session, move_form=form)
    following = form.cleaned_data["scope"] == forms.SessionMoveForm.FOLLOWING
    move = services.session_move_following if following else services.session_move
    try:
        moved = move(
            session=session,
            start=form.start(),
            chair=form.cleaned_data["chair"],
            version=form.cleaned_data["version"],
            user=request.user,
            request=request,
        )
    except ValidationError as exc:
        form.add_error(None, exc)
        return _render_session(request, session, move_form=form, **_free_slots(session, form, exc))
    moved = moved if isinstance(moved, list) else [moved]
    first, others = moved[0], len(moved) - 1
    where = {"when": when(first.local_start(), "day_time"), "chair": first.chair.name, "count": others}
    if others:
        message = ngettext(
            "Session moved to %(when)s, %(chair)s; the %(count)d following session moved with it, keeping their "
            "spacing.",
            "Session moved to %(when)s, %(chair)s; the %(count)d following sessions moved with it, keeping their "
            "spacing.",
            others,
        )
    else:
        message = _("Session moved to %(when)s, %(chair)s.")
    return _done(request, first, message % where)


def _free_slots(session: Session, form, exc: ValidationError) -> dict:
    """The free slots nearest to the time asked, and whether every chair was taken then."""
    start = form.start()
    slots = selectors.free_slots(
        site=session.chair.site,
        patient=session.patient,
        around=start,
        minutes=int((session.planned_end - session.start).total_seconds() // 60),
        min_days_between=services.phase_gap(session),
        exclude_pks=(session.pk,),
    )
    local = start.astimezone(session.chair.site.tzinfo)
    chair_taken = any(getattr(e, "code", "") == "chair_taken" for e in exc.error_list)
    free_then = [s for s in slots if (s.date, s.time) == (local.date(), local.time())]
    return {
        "free_slots": slots,
        "move_scope": form.cleaned_data["scope"],
        "all_chairs_taken": chair_taken and not free_then,
        "asked": local,
        "slots_searched": True,
    }


@login_required
@require_POST
@permission_required(BOOK, raise_exception=True)
def session_cancel(request, pk):
    session = _get_session(pk)
    form = forms.SessionCancelForm(request.POST)
    if form.is_valid():
        try:
            services.session_cancel(
                session=session,
                reason=form.cleaned_data["reason"],
                version=form.cleaned_data["version"],
                user=request.user,
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return _done(request, session, _("Session cancelled. Reminders for it will not be sent."))
    return _render_session(request, session, cancel_form=form)


@login_required
@require_POST
@permission_required(BOOK, raise_exception=True)
def session_no_show(request, pk):
    session = _get_session(pk)
    form = forms.VersionForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(_("The page was incomplete: reload it and try again."), code="stale")
        services.session_mark_no_show(
            session=session, version=form.cleaned_data["version"], user=request.user, request=request
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("scheduling:session-detail", session.pk)
    return _done(request, session, _("Marked as no-show. You can re-plan the course from the course page."))


@login_required
@require_POST
@permission_required(BOOK, raise_exception=True)
def session_transport(request, pk):
    session = _get_session(pk)
    form = forms.TransportForm(request.POST, instance=getattr(session, "transport", None) or TransportArrangement())
    if form.is_valid():
        d = form.cleaned_data
        services.transport_record(
            session=session,
            kind=d["kind"],
            name=d["name"],
            phone=d["phone"],
            relationship=d["relationship"],
            booking_reference=d["booking_reference"],
            confirmed=d["confirmed"],
            user=request.user,
            request=request,
        )
        done = _("Ride home confirmed.") if d["confirmed"] else _("Ride home saved (not yet confirmed).")
        return _done(request, session, done)
    return _render_session(request, session, transport_form=form)
