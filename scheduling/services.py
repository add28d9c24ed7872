"""Writes to courses, sessions and rides home. Keyword-only; each runs in one transaction and
writes the audit row of what it changed (``request``, when given, adds the address and page).

Booking checks every rule first and explains a refusal in the clinic's words; the
PostgreSQL exclusion constraints (migration 0003) catch two bookings racing for the same
chair or patient, and that race is reported with the same message as the check."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _

from clinic import registry
from clinic.audit import audit_record, audit_value, changes_since, diff, values_of
from clinic.formats import when
from clinic.models import AuditAction, Chair, Closure, OpeningHours, Patient, Site, StaffAlert
from clinic.services import alert_raise

from . import rules, rules_review, selectors
from .models import (
    Course,
    CourseReview,
    CourseReviewFlag,
    Drug,
    Protocol,
    ProtocolPhase,
    Session,
    SessionStatus,
    TransportArrangement,
)
from .reminders_plan import reminders_sync

ERRORS = {
    "in_past": _("This time has already passed: choose a time in the future."),
    "closure_day": _("The clinic is closed on %(date)s%(reason)s."),
    "closed_day": _("The clinic is not open on %(weekday)s."),
    "outside_hours": _("%(range)s is outside opening hours (%(hours)s)."),
    "chair_inactive": _("%(chair)s is out of service."),
    "chair_taken": _("%(chair)s is taken %(range)s by another session."),
    "patient_busy": _("%(patient)s already has a session %(range)s (%(chair)s)."),
    "patient_discharged": _(
        "%(patient)s has been discharged from this course (%(status)s): start a new course to book."
    ),
    "patient_ineligible": _("%(patient)s is not eligible for treatment: %(reasons)s."),
    "course_refused": _("%(patient)s cannot start %(protocol)s: %(reasons)s."),
    "rems_not_enrolled": _("%(patient)s is not enrolled in the REMS programme, which esketamine requires."),
    "stale": _("Someone else changed this session while you were looking at it. Check it and try again."),
    "not_movable": _("A session that is %(status)s cannot be moved."),
    "no_show_too_early": _("A session can be marked no-show only once its start time has passed."),
    "not_missed": _("Only a missed or cancelled session can be re-planned."),
    "already_replanned": _("This session has already been made up by the session on %(date)s."),
    "no_free_chair": _("No chair is free %(range)s on %(date)s."),
    "no_sessions": _("Choose at least one session to book."),
    "protocol_empty": _("This protocol has no phases: an administrator must set it up first."),
    "phase_unknown": _("This session's phase is not part of %(protocol)s: show the proposed sessions again."),
    "course_active": _(
        "%(patient)s already has an active %(drug)s course (%(protocol)s, from %(date)s): "
        "stop it before starting another."
    ),
    "dose_too_close": _("Too close to %(patient)s's session on %(other)s: doses must be at least %(days)s days apart."),
    "too_far": _("Sessions can be booked up to %(years)s years ahead, until %(last)s."),
    "course_not_active": _("This course is already %(status)s."),
    "no_review": _("This course is not waiting for a prescriber's review."),
    "review_not_allowed": _("This decision is not one this review allows: choose another."),
    "extend_at_pause": _("At the end of a phase, continue plans %(phase)s again: choose continue."),
    "no_phase": _("%(protocol)s has no phase to plan: an administrator must set it up first."),
    "no_next_phase": _("%(protocol)s has no phase after %(phase)s: continue, step back or stop."),
    "no_previous_phase": _("%(phase)s is the first phase of %(protocol)s: there is no frequency to step back to."),
    "review_no_chair": _("No chair is free %(range)s on %(date)s for the re-planned session %(sequence)s."),
}


def _error(code: str, **params) -> ValidationError:
    return ValidationError(ERRORS[code], code=code, params=params)


# --- Checks ---------------------------------------------------------------------------


@dataclass
class SiteCalendar:
    """Opening hours and closures of one site, loaded once for a series of checks."""

    site: Site
    opening_hours: dict[int, tuple[dt.time, dt.time]]
    closures: dict[dt.date, str]

    @classmethod
    def load(cls, site: Site, *, start: dt.date | None = None, end: dt.date | None = None) -> "SiteCalendar":
        closures = Closure.objects.filter(site=site)
        if start:
            closures = closures.filter(date__gte=start)
        if end:
            closures = closures.filter(date__lte=end)
        return cls(
            site=site,
            opening_hours={h.weekday: (h.opens, h.closes) for h in OpeningHours.objects.filter(site=site)},
            closures={c.date: c.reason for c in closures},
        )

    def hours_text(self, day: dt.date) -> str:
        hours = self.opening_hours.get(day.weekday())
        return f"{when(hours[0], 'time')}-{when(hours[1], 'time')}" if hours else gettext("closed")


def active_course(*, patient: Patient, drug: str) -> Course | None:
    """The patient's active course of this drug, if any (there is at most one)."""
    active = Course.objects.filter(patient=patient, drug=drug, status=Course.Status.ACTIVE)
    return active.select_related("protocol").first()


def _course_active_error(patient: Patient, existing: Course) -> ValidationError:
    return _error(
        "course_active",
        patient=patient.full_name,
        drug=existing.get_drug_display().lower(),
        protocol=existing.protocol.name,
        date=when(existing.start_date, "date"),
    )


def check_patient(*, patient: Patient, protocol: Protocol, course: Course | None = None) -> None:
    """Refuse treatment for a patient who is discharged from the course, ineligible, or (for
    esketamine) not enrolled in REMS; without ``course`` (a new course), refuse a patient who
    already has an active course of the protocol's drug."""
    if course is not None and course.status != Course.Status.ACTIVE:
        raise _error("patient_discharged", patient=patient.full_name, status=course.get_status_display().lower())
    if course is None and (existing := active_course(patient=patient, drug=protocol.drug)):
        raise _course_active_error(patient, existing)
    screening = patient.screening()
    if not screening.eligible:
        raise _error("patient_ineligible", patient=patient.full_name, reasons="; ".join(screening.reasons))
    if (protocol.requires_rems or protocol.drug == Drug.ESKETAMINE) and not patient.is_rems_enrolled:
        raise _error("rems_not_enrolled", patient=patient.full_name)
    # What the apps built on scheduling require of a new course (e.g. prior antidepressant trials).
    if course is None and (problems := registry.course_start_problems(patient=patient, protocol=protocol)):
        raise _error("course_refused", patient=patient.full_name, protocol=protocol.name, reasons="; ".join(problems))


def slot_problems(
    *,
    patient: Patient,
    chair: Chair,
    start: dt.datetime,
    end: dt.datetime,
    calendar: SiteCalendar,
    exclude_pks: tuple[int, ...] = (),
    now: dt.datetime | None = None,
    min_days_between: int | None = None,
) -> list[ValidationError]:
    """Every reason this slot cannot be booked (empty when it can). With ``min_days_between``,
    a dose of the patient's (any course) fewer days away is one of them."""
    now = now or timezone.now()
    tz = calendar.site.tzinfo
    local = start.astimezone(tz)
    span = rules.time_range(start, end, tz)
    problems = []
    today = now.astimezone(tz).date()
    if start < now:
        problems.append(_error("in_past"))
    elif not rules.bookable_day(local.date(), today):
        last = rules.booking_horizon(today)
        problems.append(_error("too_far", years=rules.BOOKING_YEARS_AHEAD, last=when(last, "date")))
    code = rules.opening_problem(
        start, end, opening_hours=calendar.opening_hours, closures=calendar.closures.keys(), tz=tz
    )
    if code == "closure_day":
        reason = calendar.closures.get(local.date(), "")
        problems.append(_error(code, date=when(local, "date"), reason=f" ({reason})" if reason else ""))
    elif code == "closed_day":
        # "Thursdays": the clinic is closed every week on that day.
        every = pgettext("a weekday in the plural: every Thursday", "%(weekday)ss") % {
            "weekday": when(local, "weekday")
        }
        problems.append(_error(code, weekday=every))
    elif code == "outside_hours":
        problems.append(_error(code, range=span, hours=calendar.hours_text(local.date())))
    if not chair.active:
        problems.append(_error("chair_inactive", chair=chair.name))
    others = Session.objects.exclude(status=SessionStatus.CANCELLED).exclude(pk__in=exclude_pks)
    taken = others.filter(chair=chair, start__lt=end, planned_end__gt=start).order_by("start").first()
    if taken:
        problems.append(
            _error("chair_taken", chair=chair.name, range=rules.time_range(taken.start, taken.planned_end, tz))
        )
    busy = (
        others.filter(patient=patient, start__lt=end, planned_end__gt=start)
        .select_related("chair")
        .order_by("start")
        .first()
    )
    if busy:
        problems.append(
            _error(
                "patient_busy",
                patient=patient.full_name,
                range=rules.time_range(busy.start, busy.planned_end, tz),
                chair=busy.chair.name,
            )
        )
    if min_days_between and (near := _dose_too_close(patient, start, min_days_between, tz, others)):
        problems.append(
            _error(
                "dose_too_close",
                patient=patient.full_name,
                other=gettext("%(date)s at %(time)s")
                % {"date": when(near.start, "date", tz), "time": when(near.start, "time", tz)},
                days=min_days_between,
            )
        )
    return problems


def _dose_too_close(patient: Patient, start: dt.datetime, min_days_between: int, tz, others) -> Session | None:
    """The patient's nearest planned or given dose (any course) closer than the gap, if any.
    Cancelled sessions and no-shows gave no dose."""
    margin = dt.timedelta(days=min_days_between + 1)
    near = others.filter(patient=patient, start__gt=start - margin, start__lt=start + margin).exclude(
        status=SessionStatus.NO_SHOW
    )
    return rules.too_close(
        start.astimezone(tz).date(), [(s.start.astimezone(tz).date(), s) for s in near], min_days_between
    )


def first_free_chair(
    *,
    patient: Patient,
    preferred: Chair,
    chairs: list[Chair],
    start: dt.datetime,
    end: dt.datetime,
    calendar: SiteCalendar,
    exclude_pks: tuple[int, ...] = (),
    min_days_between: int | None = None,
) -> tuple[Chair | None, list[ValidationError]]:
    """The chair a session from ``start`` to ``end`` goes in: ``preferred`` when it is free,
    else the first free one of ``chairs`` (in their order). Returns (that chair, []), or (None,
    the problems of the preferred chair) when none is free."""
    preferred_problems = None
    for chair in [preferred] + [c for c in chairs if c.pk != preferred.pk]:
        problems = slot_problems(
            patient=patient,
            chair=chair,
            start=start,
            end=end,
            calendar=calendar,
            exclude_pks=exclude_pks,
            min_days_between=min_days_between,
        )
        if not problems:
            return chair, []
        if preferred_problems is None:
            preferred_problems = problems
    return None, preferred_problems or []


def _raise_first(problems: list[ValidationError]) -> None:
    if problems:
        raise ValidationError(problems)


# A save that PostgreSQL cancelled to break a deadlock is tried again this many times.
DEADLOCK_RETRIES = 3


def _deadlocked(exc: OperationalError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) == "40P01"


def _save_guarded(session: Session, *, calendar: SiteCalendar, **save_kwargs) -> None:
    """Save; if the exclusion constraint refuses it (another booking committed in between),
    report that booking the way the check would have.

    Two bookings of overlapping slots saved at the same moment can each wait for the other
    while PostgreSQL checks the constraint; it then cancels one of them (a deadlock). Only that
    save's savepoint is undone, so it is tried again: the second try waits for the other
    booking and then sees it, and the scheduler gets the usual message rather than an error."""
    tz = calendar.site.tzinfo
    taken = _error(
        "chair_taken", chair=session.chair.name, range=rules.time_range(session.start, session.planned_end, tz)
    )
    for attempt in range(DEADLOCK_RETRIES + 1):
        try:
            with transaction.atomic():
                session.save(**save_kwargs)
            return
        except OperationalError as exc:
            if not _deadlocked(exc):
                raise
            if attempt == DEADLOCK_RETRIES:
                raise ValidationError([taken]) from exc
        except IntegrityError as exc:
            if "no_overlap" not in str(exc):
                raise
            problems = slot_problems(
                patient=session.patient,
                chair=session.chair,
                start=session.start,
                end=session.planned_end,
                calendar=calendar,
                exclude_pks=(session.pk,) if session.pk else (),
            )
            if "session_chair_no_overlap" in str(exc) and not problems:
                problems = [taken]
            raise ValidationError(
                problems or [_error("chair_taken", chair=session.chair.name, range=gettext("at this time"))]
            ) from exc


def _transport_from_escort(session: Session) -> TransportArrangement:
    """Every session gets a ride-home record, pre-filled with the patient's first escort."""
    escort = session.patient.escorts.first()
    fields = {"name": escort.name, "phone": escort.phone, "relationship": escort.relationship} if escort else {}
    return TransportArrangement.objects.create(session=session, **fields)


# --- Booking --------------------------------------------------------------------------


def _lock_patient(patient: Patient) -> None:
    """Bookings of one patient wait for each other: the gap between doses is measured in the
    clinic's local days, which no database constraint compares, so the check and the save
    must not interleave with another booking of the same patient."""
    list(Patient.objects.select_for_update().filter(pk=patient.pk).values_list("pk", flat=True))


def _course_phase(course: Course, phase: ProtocolPhase | None) -> ProtocolPhase:
    """``phase`` when it belongs to the course's protocol, else refused; without it, the first phase."""
    if phase is None:
        phase = course.protocol.phases.order_by("order").first()
        if phase is None:
            raise _error("protocol_empty")
    elif phase.protocol_id != course.protocol_id:
        raise _error("phase_unknown", protocol=course.protocol.name)
    return phase


def phase_gap(session: Session) -> int:
    """The minimum days between doses for a booked session: its phase's, else the default."""
    if session.course_id:
        phase = session.course.protocol.phases.filter(name=session.phase_name).first()
        if phase is not None:
            return phase.min_days_between
    return ProtocolPhase._meta.get_field("min_days_between").default


@transaction.atomic
def session_book(
    *,
    course: Course,
    chair: Chair,
    start: dt.datetime,
    phase: ProtocolPhase | None = None,
    sequence: int = 1,
    user=None,
    request=None,
) -> Session:
    """Book one session of a course in a chair. Its length, planned dose and gap from other
    doses are those of ``phase`` (the protocol's first phase when not given), never a caller's."""
    phase = _course_phase(course, phase)
    _lock_patient(course.patient)
    session = _session_book(
        course=course,
        chair=chair,
        start=start,
        minutes=phase.session_minutes,
        planned_dose_mg=phase.default_dose_mg,
        phase_name=phase.name,
        sequence=sequence,
        min_days_between=phase.min_days_between,
    )
    audit_record(
        action=AuditAction.CREATE,
        request=request,
        user=user,
        obj=session,
        summary={"course": course.pk, "changes": _booking_values(session, new=True)},
    )
    return session


@transaction.atomic  # a savepoint: a course's booking that fails leaves the others in place
def _session_book(
    *,
    course: Course,
    chair: Chair,
    start: dt.datetime,
    minutes: int,
    planned_dose_mg: Decimal,
    phase_name: str,
    sequence: int,
    min_days_between: int,
    replaces: Session | None = None,
    calendar: SiteCalendar | None = None,
    check_patient_first: bool = True,
) -> Session:
    """Book one session (not audited: the caller audits the booking it is part of). The caller
    holds the patient's lock and passes the length and dose it read from the protocol or from
    the session being made up."""
    patient = course.patient
    if check_patient_first:
        check_patient(patient=patient, protocol=course.protocol, course=course)
    calendar = calendar or SiteCalendar.load(chair.site)
    end = rules.session_end(start, minutes)
    _raise_first(
        slot_problems(
            patient=patient, chair=chair, start=start, end=end, calendar=calendar, min_days_between=min_days_between
        )
    )
    session = Session(
        course=course,
        patient=patient,
        chair=chair,
        start=start,
        planned_end=end,
        planned_dose_mg=planned_dose_mg,
        phase_name=phase_name,
        sequence=sequence,
        replaces=replaces,
    )
    _save_guarded(session, calendar=calendar)
    _transport_from_escort(session)
    reminders_sync(session=session)
    return session


@dataclass(frozen=True)
class PlannedBooking:
    """One row of a course preview the scheduler confirmed: when, where and which phase of the
    protocol. The session's length and dose are read from that phase when it is booked."""

    start: dt.datetime
    chair: Chair
    phase_order: int
    sequence: int


@transaction.atomic
def course_confirm(
    *,
    patient: Patient,
    protocol: Protocol,
    site: Site,
    start_date: dt.date,
    weekdays: list[int],
    start_time: dt.time,
    preferred_chair: Chair | None,
    bookings: list[PlannedBooking],
    user,
    request=None,
) -> Course:
    """Create the course and book all its sessions, or nothing.

    Raises ValidationError with ``error_dict`` mapping the row index (as a string) to that
    row's problems, so the preview can show each problem beside its row."""
    _lock_patient(patient)
    check_patient(patient=patient, protocol=protocol)
    if not bookings:
        raise _error("no_sessions")
    phases = {p.order: p for p in protocol.phases.all()}
    if not phases:
        raise _error("protocol_empty")
    if any(b.phase_order not in phases for b in bookings):
        raise _error("phase_unknown", protocol=protocol.name)
    last_phase = phases[max(b.phase_order for b in bookings)]
    course = Course(
        patient=patient,
        protocol=protocol,
        site=site,
        preferred_chair=preferred_chair,
        start_date=start_date,
        weekdays=sorted(weekdays),
        start_time=start_time,
        created_by=user,
        # The plan stops at a phase that needs a prescriber's review: the course pauses there.
        review_phase_order=last_phase.order if last_phase.review_after else None,
    )
    try:
        with transaction.atomic():
            course.save()
    except IntegrityError as exc:  # another writer started one in between
        if "course_one_active_per_drug" not in str(exc):
            raise
        existing = active_course(patient=patient, drug=protocol.drug)
        raise (_course_active_error(patient, existing) if existing else _error("stale")) from exc
    calendar = SiteCalendar.load(site, start=start_date)
    errors: dict[str, list] = {}
    booked: list[Session] = []
    for index, booking in enumerate(bookings):
        phase = phases[booking.phase_order]
        try:
            session = _session_book(
                course=course,
                chair=booking.chair,
                start=booking.start,
                minutes=phase.session_minutes,
                planned_dose_mg=phase.default_dose_mg,
                phase_name=phase.name,
                sequence=booking.sequence,
                min_days_between=phase.min_days_between,
                calendar=calendar,
                check_patient_first=False,
            )
            booked.append(session)
        except ValidationError as exc:
            errors[str(index)] = exc.error_list
    if errors:
        raise ValidationError(errors)  # rolls back the course and every session booked above
    audit_record(
        action=AuditAction.CREATE,
        request=request,
        user=user,
        obj=course,
        summary={
            "protocol": protocol.slug,
            "sessions": len(bookings),
            "changes": {
                "protocol": [None, protocol.name],
                "site": [None, site.name],
                "preferred_chair": [None, preferred_chair.name if preferred_chair else None],
                "start_date": [None, audit_value(start_date)],
                "weekdays": [None, sorted(weekdays)],
                "start_time": [None, audit_value(start_time)],
                "status": [None, course.status],
            },
            "booked": [_booking_values(s) for s in booked],
        },
    )
    return course


# --- Changing a session ---------------------------------------------------------------


def _lock(session: Session, version: int | None) -> Session:
    """Lock the session row, then check the form was made from its current version."""
    locked = Session.objects.select_for_update().get(pk=session.pk)
    if version is not None and locked.version != version:
        raise _error("stale")
    return locked


def _booking_values(session: Session, *, new: bool = False) -> dict:
    """When and where ``session`` is booked, as its audit rows give it (the chair by name: the
    caller has the chair loaded). ``new``: as the ``changes`` of a new booking."""
    values = {"start": audit_value(session.start), "chair": session.chair.name}
    if not new:
        return values
    values |= {"status": session.status, "planned_dose_mg": audit_value(session.planned_dose_mg)}
    values |= {"phase_name": session.phase_name, "sequence": session.sequence}
    return {name: [None, value] for name, value in values.items() if value not in (None, "")}


def _audit_change(session: Session, action: str, *, user, request, **summary) -> None:
    audit_record(
        action=AuditAction.UPDATE, request=request, user=user, obj=session, summary={"action": action, **summary}
    )


def _touch(session: Session, status: str | None = None) -> None:
    session.version += 1
    if status:
        session.status = status
        session.status_changed_at = timezone.now()


@transaction.atomic
def session_move(
    *, session: Session, start: dt.datetime, chair: Chair, version: int | None, user=None, request=None
) -> Session:
    """Move a booked session to a new time and/or chair; the booking checks apply, the gap
    from the patient's other doses included. The session keeps its length."""
    return _move(
        session=session, start=start, chair=chair, version=version, following=False, user=user, request=request
    )[0]


@transaction.atomic
def session_move_following(
    *, session: Session, start: dt.datetime, chair: Chair, version: int | None, user=None, request=None
) -> list[Session]:
    """Move a booked session and the course's later booked sessions by as many days, so they
    keep their spacing (those at the same local time as this one also take its new time);
    each keeps its chair when free, else takes the first free one. Every booking check
    applies to each; all of them move, or none. Returns the moved sessions, this one first."""
    return _move(session=session, start=start, chair=chair, version=version, following=True, user=user, request=request)


def _move(
    *, session: Session, start: dt.datetime, chair: Chair, version: int | None, following: bool, user, request
) -> list[Session]:
    session = _lock(session, version)
    if session.status != SessionStatus.BOOKED:
        raise _error("not_movable", status=session.get_status_display().lower())
    _lock_patient(session.patient)
    if session.course_id:
        check_patient(patient=session.patient, protocol=session.course.protocol, course=session.course)
    tz = chair.site.tzinfo
    later: list[Session] = []
    if following and session.course_id:
        later = list(
            Session.objects.select_for_update()
            .filter(course_id=session.course_id, status=SessionStatus.BOOKED, start__gt=session.start)
            .select_related("chair__site", "course__protocol")
            .order_by("start")
        )
    moving = (session.pk, *(s.pk for s in later))
    old_local, new_local = session.start.astimezone(tz), start.astimezone(tz)
    shift = new_local.date() - old_local.date()
    calendar = SiteCalendar.load(chair.site)
    chairs = list(Chair.objects.filter(site=chair.site, active=True).order_by("name"))
    chair_names = {c.pk: c.name for c in chairs}
    plan: list[tuple[Session, Chair, dt.datetime, dt.datetime]] = []
    errors: list[ValidationError] = []
    for index, item in enumerate([session, *later]):
        minutes = int((item.planned_end - item.start).total_seconds() // 60)
        if index == 0:
            item_start, item_chair = start, chair
        else:
            local = item.start.astimezone(tz)
            at = new_local.time() if local.time() == old_local.time() else local.time()
            day = local.date() + shift
            if (problem := rules.clock_problem(day, at, tz)) is not None:
                problem = gettext("The session of %(day)s: %(problem)s") % {
                    "day": when(local, "day"),
                    "problem": problem,
                }
                errors.append(ValidationError(problem, code="time_skipped"))
                continue
            item_start, item_chair = rules.local_datetime(day, at, tz), item.chair
        end = rules.session_end(item_start, minutes)
        gap = phase_gap(item)
        if index == 0:
            problems = slot_problems(
                patient=item.patient,
                chair=item_chair,
                start=item_start,
                end=end,
                calendar=calendar,
                exclude_pks=moving,
                min_days_between=gap,
            )
        else:
            item_chair, problems = first_free_chair(
                patient=item.patient,
                preferred=item_chair,
                chairs=chairs,
                start=item_start,
                end=end,
                calendar=calendar,
                exclude_pks=moving,
                min_days_between=gap,
            )
        if problems:
            if index == 0:
                errors += [ValidationError(" ".join(p.messages), code=p.code) for p in problems]
            else:
                values = {"day": when(item.start, "day", tz), "new": when(item_start, "day_time", tz)}
                errors += [
                    ValidationError(
                        gettext("The session of %(day)s, moving to %(new)s: %(problem)s")
                        % {**values, "problem": " ".join(p.messages)},
                        code=p.code,
                    )
                    for p in problems
                ]
            continue
        plan.append((item, item_chair, item_start, end))
    if errors:
        raise ValidationError(errors)
    # Moving later: the last one first, so none lands on one not yet moved (and the reverse).
    for item, item_chair, item_start, end in sorted(plan, key=lambda p: p[0].start, reverse=shift.days > 0):
        was = {"start": audit_value(item.start), "chair": chair_names.get(item.chair_id) or item.chair.name}
        item.start, item.planned_end, item.chair = item_start, end, item_chair
        _touch(item)
        _save_guarded(item, calendar=calendar)
        reminders_sync(session=item)
        changes = diff(was, _booking_values(item))
        _audit_change(
            item, "move", user=user, request=request, chair=item_chair.pk, following=following, changes=changes
        )
    return [p[0] for p in plan]


@transaction.atomic
def session_cancel(*, session: Session, reason: str, version: int | None, user=None, request=None) -> Session:
    session = _lock(session, version)
    session.check_transition(SessionStatus.CANCELLED)
    before = values_of(session, ["status", "cancel_reason"])
    session.cancel_reason = reason.strip()[:255]
    _touch(session, SessionStatus.CANCELLED)
    session.save()
    reminders_sync(session=session)
    _audit_change(session, "cancel", user=user, request=request, changes=changes_since(before, session))
    return session


@transaction.atomic
def session_mark_no_show(*, session: Session, version: int | None, user=None, request=None) -> Session:
    session = _lock(session, version)
    session.check_transition(SessionStatus.NO_SHOW)
    if session.start > timezone.now():
        raise _error("no_show_too_early")
    before = values_of(session, ["status"])
    _touch(session, SessionStatus.NO_SHOW)
    session.save()
    reminders_sync(session=session)
    _audit_change(session, "no_show", user=user, request=request, changes=changes_since(before, session))
    return session


@transaction.atomic
def course_replan(*, course: Course, missed: Session, user=None, request=None) -> list[Session]:
    """Make up a missed or cancelled session without restarting the course.

    A replacement session is booked at the first allowed day (not before tomorrow, and the
    phase's minimum gap after the last session the patient had), and every later booked
    session moves forward only as far as it must to keep its minimum gap. Chairs: the same
    chair when free, else any free chair. Returns the replacement followed by the moved
    sessions."""
    course = (
        Course.objects.select_for_update(of=("self",)).select_related("protocol", "site", "patient").get(pk=course.pk)
    )
    missed = Session.objects.select_related("chair").get(pk=missed.pk, course=course)
    if missed.status not in (SessionStatus.NO_SHOW, SessionStatus.CANCELLED):
        raise _error("not_missed")
    existing = Session.objects.filter(replaces=missed).first()
    if existing:
        raise _error("already_replanned", date=when(existing.local_start(), "day"))
    _lock_patient(course.patient)
    check_patient(patient=course.patient, protocol=course.protocol, course=course)
    site, tz = course.site, course.site.tzinfo
    now = timezone.now()
    active = course.sessions.exclude(status__in=[SessionStatus.CANCELLED, SessionStatus.NO_SHOW])
    following = list(
        active.filter(status=SessionStatus.BOOKED, start__gt=max(missed.start, now))
        .select_related("chair")
        .order_by("start")
    )
    last_attended = active.filter(start__lt=missed.start).order_by("-start").first()
    phases = {p.name: p for p in course.protocol.phases.all()}
    gaps = {name: p.min_days_between for name, p in phases.items()}
    moved_pks = {missed.pk, *(s.pk for s in following)}
    kept = [s.start.astimezone(tz).date() for s in active.only("pk", "start") if s.pk not in moved_pks]
    minutes_of = lambda s: int((s.planned_end - s.start).total_seconds() // 60)  # noqa: E731
    items = [
        rules.PlannedItem(
            date=s.start.astimezone(tz).date(),
            at=s.start.astimezone(tz).time(),
            minutes=minutes_of(s),
            min_days_between=gaps.get(s.phase_name, 2),
            per_week=phases[s.phase_name].sessions_per_week if s.phase_name in phases else None,
        )
        for s in [missed, *following]
    ]
    calendar = SiteCalendar.load(site)
    try:
        new_dates = rules.replan_dates(
            items=items,
            earliest=now.astimezone(tz).date() + dt.timedelta(days=1),
            last_attended=last_attended.start.astimezone(tz).date() if last_attended else None,
            opening_hours=calendar.opening_hours,
            closures=calendar.closures.keys(),
            tz=tz,
            weekdays=course.weekdays,
            kept=kept,
        )
    except rules.ScheduleError as exc:
        raise ValidationError(str(exc), code="no_open_day")
    chairs = list(Chair.objects.filter(site=site, active=True).order_by("name"))
    moving = tuple(s.pk for s in following)

    def free_chair(preferred: Chair, start: dt.datetime, end: dt.datetime, gap: int) -> Chair:
        chair, problems = first_free_chair(
            patient=course.patient,
            preferred=preferred,
            chairs=chairs,
            start=start,
            end=end,
            calendar=calendar,
            exclude_pks=moving,
            min_days_between=gap,
        )
        if chair is None:
            # A patient problem (another dose too close, the booking horizon) holds for every chair.
            patient_wide = [p for p in problems if p.code in ("dose_too_close", "too_far")]
            if patient_wide:
                raise ValidationError(patient_wide)
            raise _error("no_free_chair", range=rules.time_range(start, end, tz), date=when(start, "day", tz))
        return chair

    # Later sessions first: each only moves forward, so it never lands on one not yet moved.
    changed: list[Session] = []
    moved: dict[str, dict] = {}
    for session, item, day in reversed(list(zip(following, items[1:], new_dates[1:], strict=True))):
        if day == item.date:
            continue
        was = _booking_values(session)
        start = rules.local_datetime(day, item.at, tz)
        end = rules.session_end(start, item.minutes)
        session.chair = free_chair(session.chair, start, end, item.min_days_between)
        session.start, session.planned_end = start, end
        _touch(session)
        _save_guarded(session, calendar=calendar)
        reminders_sync(session=session)
        changed.append(session)
        moved[str(session.pk)] = diff(was, _booking_values(session))
    start = rules.local_datetime(new_dates[0], items[0].at, tz)
    end = rules.session_end(start, items[0].minutes)
    replacement = _session_book(
        course=course,
        chair=free_chair(missed.chair, start, end, items[0].min_days_between),
        start=start,
        minutes=items[0].minutes,
        planned_dose_mg=missed.planned_dose_mg,
        phase_name=missed.phase_name,
        sequence=missed.sequence,
        min_days_between=items[0].min_days_between,
        replaces=missed,
        calendar=calendar,
        check_patient_first=False,
    )
    result = [replacement, *reversed(changed)]
    audit_record(
        action=AuditAction.UPDATE,
        request=request,
        user=user,
        obj=course,
        summary={
            "action": "replan",
            "missed": missed.pk,
            "sessions": [s.pk for s in result],
            "missed_start": audit_value(missed.start),
            "booked": {"session": replacement.pk, **_booking_values(replacement)},
            "moved": dict(reversed(moved.items())),
        },
    )
    return result


@transaction.atomic
def course_stop(*, course: Course, reason: str, user=None, request=None) -> list[Session]:
    """Stop an active course: its sessions still to come are cancelled (with the reason), and
    the patient can start another course of the drug. Returns the cancelled sessions."""
    course = Course.objects.select_for_update().get(pk=course.pk)
    if course.status != Course.Status.ACTIVE:
        raise _error("course_not_active", status=course.get_status_display().lower())
    reason = reason.strip()
    before = values_of(course, ["status"])
    course.status = Course.Status.STOPPED
    course.save(update_fields=["status"])
    upcoming = list(
        Session.objects.select_for_update().filter(course=course, status=SessionStatus.BOOKED, start__gt=timezone.now())
    )
    max_reason = Session._meta.get_field("cancel_reason").max_length
    for session in upcoming:
        session.cancel_reason = (gettext("Course stopped: %(reason)s") % {"reason": reason})[:max_reason]
        _touch(session, SessionStatus.CANCELLED)
        session.save()
        reminders_sync(session=session)
    audit_record(
        action=AuditAction.UPDATE,
        request=request,
        user=user,
        obj=course,
        summary={
            "action": "stop",
            "reason": reason,
            "cancelled": [s.pk for s in upcoming],
            "changes": changes_since(before, course),
        },
    )
    return upcoming


# --- The prescriber's review ------------------------------------------------------------


REVIEW_PERMISSION = "scheduling.review_course"


def _review_plan(course: Course, position, decision: str) -> list[ProtocolPhase]:
    """The phases ``decision`` plans from ``position`` (``selectors.review_position``), in
    order (the planner stops at the next phase that needs a review); empty when it plans
    nothing. At a pause: continue = the reviewed phase again; next phase = those after it;
    step back = the phase before it, then on from there. On a running course flagged for
    review, from the phase it is in now: extend = that phase again in full; next and step back
    alike; continue plans nothing. Refused with the reason when the protocol or the position
    does not allow it (``rules_review.plan_from``)."""
    try:
        first = rules_review.plan_from(
            decision, index=position.index, count=len(position.phases), paused=position.paused
        )
    except rules_review.ReviewNotAllowed as exc:
        current = position.current
        raise _error(
            exc.code if exc.code in ERRORS else "review_not_allowed",
            protocol=course.protocol.name,
            phase=current.name if current else gettext("this phase"),
        ) from None
    return [] if first is None else position.phases[first:]


@transaction.atomic
def course_review_decide(*, course: Course, decision: str, note: str, user, request=None) -> CourseReview:
    """Record a prescriber's decision on a course waiting for a review (paused at a phase's
    end, or flagged while running), and act on it. The course's open flags are settled by it.

    Stop: the course stops (its sessions still to come are cancelled). Continue on a running
    course: the booked sessions stay. Otherwise the sessions still to come are cancelled and
    the rest of the course is planned again from the last dose with the same rules as the
    wizard (``rules.generate_schedule``: the frequency a ceiling, the minimum gaps, the
    offered weekdays and time, closures and the clock), from the course's preferred chair or
    the first free one, every booking checked; all of it, or nothing. The course pauses again
    at the next phase that needs a review."""
    if user is None or not user.has_perm(REVIEW_PERMISSION):
        raise PermissionDenied
    course = (
        Course.objects.select_for_update(of=("self",))
        .select_related("protocol", "site", "patient", "preferred_chair")
        .get(pk=course.pk)
    )
    if course.status != Course.Status.ACTIVE:
        raise _error("course_not_active", status=course.get_status_display().lower())
    position = selectors.review_position(course)
    if position is None:
        raise _error("no_review")
    phases = _review_plan(course, position, decision)
    reviewed = position.current
    note = note.strip()
    review = CourseReview(
        course=course,
        phase_order=reviewed.order if reviewed else 0,
        phase_name=reviewed.name if reviewed else "",
        decision=decision,
        note=note,
        decided_by=user,
    )
    if decision == CourseReview.Decision.STOP:
        reason = gettext("Prescriber's review: %(note)s") % {"note": note or pgettext("a review's decision", "stop")}
        course_stop(course=course, reason=reason, user=user, request=request)
        course.refresh_from_db()
        course.review_phase_order = None
        course.save(update_fields=["review_phase_order"])
        review.save()
        _audit_review(review, [], flags=_settle_flags(course, review), user=user, request=request)
        return review
    if not phases:  # continue on a running course: the booked plan stays
        review.save()
        _audit_review(review, [], flags=_settle_flags(course, review), user=user, request=request)
        return review
    _lock_patient(course.patient)
    check_patient(patient=course.patient, protocol=course.protocol, course=course)
    now = timezone.now()
    site, tz = course.site, course.site.tzinfo
    upcoming = list(
        Session.objects.select_for_update().filter(course=course, status=SessionStatus.BOOKED, start__gt=now)
    )
    for session in upcoming:
        session.cancel_reason = gettext("Re-planned after the prescriber's review")
        _touch(session, SessionStatus.CANCELLED)
        session.save()
        reminders_sync(session=session)
    given = (
        course.sessions.exclude(status__in=[SessionStatus.CANCELLED, SessionStatus.NO_SHOW]).order_by("-start").first()
    )
    last_sequence = max(course.sessions.values_list("sequence", flat=True), default=0)
    calendar = SiteCalendar.load(site)
    specs = [p.spec() for p in phases]
    try:
        proposals = rules.generate_schedule(
            phases=specs,
            start_date=now.astimezone(tz).date(),
            weekdays=course.weekdays,
            start_time=course.start_time,
            opening_hours=calendar.opening_hours,
            closures=calendar.closures,
            tz=tz,
            now=now,
            after=given.start.astimezone(tz).date() if given else None,
            first_sequence=last_sequence + 1,
        )
    except rules.ScheduleError as exc:
        raise ValidationError(str(exc), code="no_plan") from exc
    by_order = {p.order: p for p in phases}
    chairs = list(Chair.objects.filter(site=site, active=True).order_by("name"))
    booked = []
    for proposal in proposals:
        phase = by_order[proposal.phase_order]
        preferred = course.preferred_chair or (chairs[0] if chairs else None)
        chair, problems = (
            first_free_chair(
                patient=course.patient,
                preferred=preferred,
                chairs=chairs,
                start=proposal.start,
                end=proposal.end,
                calendar=calendar,
                min_days_between=phase.min_days_between,
            )
            if preferred
            else (None, [])
        )
        if chair is None:
            patient_wide = [p for p in problems if p.code in ("dose_too_close", "too_far")]
            raise (
                ValidationError(patient_wide)
                if patient_wide
                else _error(
                    "review_no_chair",
                    range=rules.time_range(proposal.start, proposal.end, tz),
                    date=when(proposal.start, "day", tz),
                    sequence=proposal.sequence,
                )
            )
        booked.append(
            _session_book(
                course=course,
                chair=chair,
                start=proposal.start,
                minutes=phase.session_minutes,
                planned_dose_mg=phase.default_dose_mg,
                phase_name=phase.name,
                sequence=proposal.sequence,
                min_days_between=phase.min_days_between,
                calendar=calendar,
                check_patient_first=False,
            )
        )
    paused = next((p.phase_order for p in proposals if p.review_follows), None)
    course.review_phase_order = paused
    course.save(update_fields=["review_phase_order"])
    review.save()
    flags = _settle_flags(course, review)
    _audit_review(review, booked, cancelled=upcoming, flags=flags, user=user, request=request)
    return review


def _settle_flags(course: Course, review: CourseReview) -> list[CourseReviewFlag]:
    """The decision settles every flag of the course still open. Locked last (after the
    sessions), as a score's save locks its session before its flag: the two never wait for
    each other in opposite orders."""
    flags = list(
        CourseReviewFlag.objects.select_for_update().filter(course=course, review__isnull=True, cleared_at__isnull=True)
    )
    for flag in flags:
        flag.review = review
        flag.save(update_fields=["review"])
    return flags


def _audit_review(review: CourseReview, booked: list[Session], *, user, request, cancelled=(), flags=()) -> None:
    audit_record(
        action=AuditAction.UPDATE,
        request=request,
        user=user,
        obj=review.course,
        summary={
            "action": "review",
            "decision": review.decision,
            # The course was paused at the reviewed phase; it now pauses at the next review, if any.
            "changes": diff(
                {"review_phase_order": review.phase_order},
                {"review_phase_order": review.course.review_phase_order, "note": review.note or None},
            ),
            "first_booked": audit_value(booked[0].start) if booked else None,
            "phase": review.phase_name,
            "booked": [s.pk for s in booked],
            "cancelled": [s.pk for s in cancelled],
            "flags": [f.pk for f in flags],
        },
    )


# --- Flags for a review of a running course ---------------------------------------------


@transaction.atomic
def course_flag_raise(
    *,
    course: Course,
    key: str,
    reason: str,
    detail: dict | None = None,
    session: Session | None = None,
    raised_by=None,
    request=None,
) -> CourseReviewFlag | None:
    """Put a running course on the prescribers' review worklist for ``reason`` (e.g. a
    worsening score), without pausing it or cancelling a session. ``key`` names the source:
    the same source flagged again is one flag, brought up to date while it is open (reopened
    when a correction had cleared it). Nothing for a course that is not active, or a source a
    prescriber has already decided on. Returns the open flag. Audited (``raised_by`` empty:
    the patient's own answers)."""
    course = Course.objects.only("pk", "status", "patient_id").get(pk=course.pk)
    if course.status != Course.Status.ACTIVE:
        return None
    values = {
        "reason": reason[: CourseReviewFlag._meta.get_field("reason").max_length],
        "detail": detail or {},
        "session": session,
        "raised_by": raised_by,
    }
    flag = CourseReviewFlag.objects.select_for_update().filter(key=key).first()
    if flag is None:
        try:
            with transaction.atomic():
                flag = CourseReviewFlag.objects.create(course=course, key=key, **values)
        except IntegrityError:  # raised at the same moment from another page: that row
            flag = CourseReviewFlag.objects.select_for_update().get(key=key)
        else:
            _audit_flag(flag, AuditAction.CREATE, "flag", raised_by=raised_by, request=request)
            return flag
    if flag.review_id is not None:
        return None
    reopened = flag.cleared_at is not None
    if not reopened and flag.reason == values["reason"] and flag.detail == values["detail"]:
        return flag
    for name, value in values.items():
        setattr(flag, name, value)
    if reopened:
        flag.raised_at, flag.cleared_at, flag.cleared_reason = timezone.now(), None, ""
    flag.save()
    _audit_flag(flag, AuditAction.UPDATE, "reflag" if reopened else "flag_update", raised_by=raised_by, request=request)
    return flag


@transaction.atomic
def course_flag_clear(*, key: str, reason: str, user=None, request=None) -> CourseReviewFlag | None:
    """Take a course off the worklist for the source ``key`` when that source no longer
    warrants a review (a corrected score) and no prescriber has decided on it yet. Returns the
    flag cleared, or None when there was no open one. Audited."""
    flag = CourseReviewFlag.objects.select_for_update().filter(key=key, review__isnull=True).first()
    if flag is None or flag.cleared_at is not None:
        return None
    flag.cleared_at = timezone.now()
    flag.cleared_reason = reason[: CourseReviewFlag._meta.get_field("cleared_reason").max_length]
    flag.save(update_fields=["cleared_at", "cleared_reason"])
    _audit_flag(flag, AuditAction.UPDATE, "flag_clear", raised_by=user, request=request)
    return flag


def _audit_flag(flag: CourseReviewFlag, action: str, what: str, *, raised_by, request) -> None:
    audit_record(
        action=action,
        request=request,
        user=raised_by,
        actor="staff" if raised_by is not None else ("patient" if request is not None else "system"),
        obj=flag,
        patient=flag.course.patient_id,
        summary={"action": what, "course": flag.course_id, "reason": flag.cleared_reason or flag.reason},
    )


# --- Ride home ------------------------------------------------------------------------


# What the audit rows of a ride home record, before and after.
TRANSPORT_FIELDS = ("kind", "name", "phone", "relationship", "booking_reference", "status")


@transaction.atomic
def transport_record(
    *,
    session: Session,
    kind: str,
    name: str,
    phone: str = "",
    relationship: str = "",
    booking_reference: str = "",
    confirmed: bool,
    user,
    request=None,
) -> TransportArrangement:
    """Record who takes the patient home; ``confirmed`` means staff confirmed it with them."""
    arrangement, _ = TransportArrangement.objects.select_for_update().get_or_create(session=session)
    before = values_of(arrangement, TRANSPORT_FIELDS)
    arrangement.kind = kind
    arrangement.name = name
    arrangement.phone = phone
    arrangement.relationship = relationship if kind == TransportArrangement.Kind.ESCORT else ""
    arrangement.booking_reference = booking_reference if kind == TransportArrangement.Kind.RIDE else ""
    if confirmed:
        arrangement.status = TransportArrangement.Status.CONFIRMED_STAFF
        arrangement.confirmed_at = timezone.now()
        arrangement.confirmed_by = user
    else:
        arrangement.status = TransportArrangement.Status.UNCONFIRMED
        arrangement.confirmed_at = None
        arrangement.confirmed_by = None
    arrangement.save()
    _audit_change(session, "transport", user=user, request=request, changes=changes_since(before, arrangement))
    return arrangement


def session_alert(
    session: Session, *, kind: str, dedupe_key: str, message: str, severity: str, audience: str, url: str
) -> bool:
    """Raise a staff alert about ``session`` (its site, patient and session filled in) once per
    ``dedupe_key``; True if it is new. ``session.chair`` should be loaded."""
    _, created = alert_raise(
        kind=kind,
        dedupe_key=dedupe_key,
        message=message,
        severity=severity,
        audience=audience,
        site_id=session.chair.site_id,
        patient_id=session.patient_id,
        session_id=session.pk,
        url=url,
    )
    return created


# --- Rides still unconfirmed ----------------------------------------------------------


def rides_unconfirmed_alert(*, now: dt.datetime | None = None) -> int:
    """Raise one scheduler alert per booked session starting within RIDE_CHECK_HOURS_BEFORE
    whose ride home is missing or unconfirmed. Idempotent; returns the number raised."""
    now = now or timezone.now()
    horizon = now + dt.timedelta(hours=settings.RIDE_CHECK_HOURS_BEFORE)
    already = StaffAlert.objects.filter(kind="ride_unconfirmed", session_id__isnull=False).values("session_id")
    sessions = (
        Session.objects.filter(status=SessionStatus.BOOKED, start__gt=now, start__lte=horizon)
        .filter(Q(transport__isnull=True) | Q(transport__status=TransportArrangement.Status.UNCONFIRMED))
        .exclude(pk__in=already)
        .select_related("chair__site", "patient")
    )
    raised = 0
    for session in sessions:
        raised += session_alert(
            session,
            kind="ride_unconfirmed",
            dedupe_key=f"ride-unconfirmed:session:{session.pk}",
            message=gettext("No confirmed ride home for %(patient)s on %(when)s.")
            % {"patient": session.patient.full_name, "when": when(session.local_start(), "day_time")},
            severity="warning",
            audience="scheduler",
            url=reverse("scheduling:session-detail", args=[session.pk]),
        )
    return raised


# --- The patient's answer through the link --------------------------------------------


@transaction.atomic
def transport_confirm_by_patient(*, session: Session, name: str, phone: str, request=None) -> TransportArrangement:
    """The patient confirms they are coming and who drives them home. Creates the transport
    arrangement when missing; an empty ``phone`` keeps the one already recorded. Audited as
    a patient action."""
    session = Session.objects.select_for_update().get(pk=session.pk)
    transport, created = TransportArrangement.objects.select_for_update().get_or_create(session=session)
    before = values_of(transport, ("kind", "name", "phone", "status"))
    if name and name != transport.name:
        transport.kind = TransportArrangement.Kind.ESCORT
        transport.name = name
    transport.phone = phone or transport.phone
    transport.status = TransportArrangement.Status.CONFIRMED_PATIENT
    transport.confirmed_at = timezone.now()
    transport.confirmed_by = None
    transport.save()
    changes = changes_since(before, transport)
    audit_record(
        action=AuditAction.CREATE if created else AuditAction.UPDATE,
        request=request,
        obj=transport,
        patient=session.patient_id,
        actor="patient",
        summary={"attendance": "confirmed", "fields": sorted(changes), "via": "reminder link", "changes": changes},
    )
    return transport
