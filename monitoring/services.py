"""Every write of the session day. Keyword-only; each runs in one transaction and writes its
own audit row (``request``, when given, adds the address and path the write came from).
Services re-check the clinical rules themselves, with the day of ``monitoring.day``: a view
(or a forged POST) cannot skip them."""

import datetime as dt
from contextlib import nullcontext
from decimal import Decimal

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from clinic.audit import audit_record, audit_value, changes_since, created_changes, diff, values_of
from clinic.formats import when
from clinic.models import AuditAction, StaffAlert
from scheduling.models import Drug, Session, SessionStatus, TransportArrangement
from scheduling.services import session_alert

from . import rules
from .day import load_day, rems_records, rems_sessions, session_drug
from .models import (
    Addendum,
    AdverseEvent,
    CheckIn,
    DeviceAdministration,
    Discharge,
    DoseRecord,
    Observation,
    PrescriberOverride,
    ReadingKind,
    RemsSubmission,
    StopCause,
    VitalsReading,
    current_thresholds,
)

__all__ = ["session_drug"]  # re-exported: the demo data asks services for a session's drug

READING_FIELDS = tuple(rules.PHYSIOLOGICAL_LIMITS)


def _lock(session: Session) -> Session:
    """Re-read the session under a row lock so two nurses' clicks are applied one at a time, with
    its check-in and observation (the bounds of every clinical time entered)."""
    return (
        Session.objects.select_for_update(of=("self",))
        .select_related("chair__site", "checkin", "observation__discharge")
        .get(pk=session.pk)
    )


def _one(obj, name):
    """A one-to-one read with select_related, or None when there is no row."""
    try:
        return getattr(obj, name)
    except obj.__class__._meta.get_field(name).related_model.DoesNotExist:
        return None


def _entered_time(
    entered: dt.datetime | None,
    *,
    session: Session,
    field: str,
    now: dt.datetime,
    t: rules.Thresholds,
    not_before: tuple = (),
    after_check_in: bool = True,
) -> tuple[dt.datetime, bool]:
    """The clinical time to record and whether it is a late entry: ``entered`` when the rules of
    ``rules.entered_time_error`` accept it (else a refusal on ``field``), now when not given."""
    if entered is None:
        return now, False
    checkin = _one(session, "checkin") if after_check_in else None
    observation = _one(session, "observation")
    discharge = _one(observation, "discharge") if observation else None
    error = rules.entered_time_error(
        entered,
        now=now,
        checked_in_at=checkin.arrived_at if checkin else None,
        discharged_at=discharge.discharged_at if discharge else None,
        window_minutes=t.late_entry_window_minutes,
        not_before=not_before,
        tz=session.chair.site.tzinfo,
    )
    if error:
        raise ValidationError({field: ValidationError(error.message, code=error.code)})
    return entered, rules.is_late_entry(entered, now=now)


def _late(**times) -> dict | None:
    """The audit summary of a write whose times were entered afterwards: {what: when}."""
    late = {name: moment.astimezone(dt.UTC).isoformat() for name, (moment, is_late) in times.items() if is_late}
    return {"late_entry": late} if late else None


def _move_status(session: Session, to: str) -> None:
    session.check_transition(to)
    now = timezone.now()
    changed = Session.objects.filter(pk=session.pk, status=session.status).update(
        status=to, status_changed_at=now, version=F("version") + 1
    )
    if changed != 1:
        raise ValidationError(gettext("Someone else changed this session just now. Reload the page."), code="stale")
    session.status = to
    session.status_changed_at = now


def _require(user, perm: str) -> None:
    if not user.has_perm(perm):
        raise PermissionDenied


def session_url(session: Session) -> str:
    return reverse("monitoring:session-day", args=[session.pk])


def _audit(
    action: str, obj, *, session: Session, user, request, summary: dict | None = None, changes: dict | None = None
) -> None:
    """The audit row of a write of the session day; ``changes``: {field: [old, new]} (kept when
    empty: a write that changed nothing says so)."""
    if changes is not None:
        summary = {**(summary or {}), "changes": changes}
    audit_record(action=action, request=request, user=user, obj=obj, patient=session.patient_id, summary=summary)


# The fields the audit rows of the session day record, before and after the write.
CHECKIN_FIELDS = ("arrived_at", "arrival_late_entry", *CheckIn.CHECKLIST, "notes")
READING_VALUES = (*READING_FIELDS, "dissociation", "notes")
READING_FIELDS_AUDITED = ("kind", "checkpoint_minute", "taken_at", "late_entry", *READING_VALUES)
RIDE_FIELDS = ("kind", "name", "phone", "relationship", "status")
DOSE_FIELDS = ("drug", "dose_mg", "devices_planned", "lot_number", "weight_kg", "mg_per_kg", "infusion_start")
DOSE_STOP_FIELDS = ("stopped_cause", "stopped_event", "stopped_note", "stopped_at")
DISCHARGE_FIELDS = (
    "discharged_at",
    "alert",
    "oriented",
    "steady",
    "picked_up_by",
    "picked_up_relationship",
    "picked_up_at",
    "matches_arrangement",
    "would_have_been_ready_at",
    "notes",
)


def _reading_changes(reading: VitalsReading) -> dict:
    """The ``changes`` of a new reading: its values, and the labels of its flags."""
    changes = created_changes(reading, READING_FIELDS_AUDITED)
    if reading.flags:
        changes["flags"] = [None, [f["label"] for f in reading.flags]]
    return changes


# --- Check-in -------------------------------------------------------------------------


@transaction.atomic
def session_check_in(
    *,
    session: Session,
    user,
    checklist: dict[str, bool],
    arrived_at: dt.datetime | None = None,
    transport: dict | None = None,
    notes: str = "",
    request=None,
) -> CheckIn:
    """Record arrival and the pre-dose checklist; a booked session becomes checked in.

    Check-in happens on the session's local day, from the clinic's check-in window before its
    start; the arrival is now, or a time inside the late-entry window (marked as late). An
    update of the checklist keeps the arrival unless a time is given.

    ``transport`` (name, phone, relationship) records the ride home now when it was not
    confirmed beforehand; without a confirmed ride the checklist stays incomplete."""
    _require(user, "monitoring.record_vitals")
    session = _lock(session)
    now = timezone.now()
    t = current_thresholds()
    tz = session.chair.site.tzinfo
    checkin = _one(session, "checkin")
    creating = checkin is None
    before = {} if creating else values_of(checkin, CHECKIN_FIELDS)
    status_before = session.status
    if creating:
        if session.status != SessionStatus.BOOKED:
            session.check_transition(SessionStatus.CHECKED_IN)
        error = rules.checkin_time_error(
            now=now, session_start=session.start, tz=tz, window_minutes=t.checkin_window_minutes
        )
        if error:
            raise ValidationError({NON_FIELD_ERRORS: ValidationError(error.message, code=error.code)})
    elif session.status not in (SessionStatus.BOOKED, SessionStatus.CHECKED_IN):
        raise ValidationError(gettext("The checklist cannot change once dosing has started."), code="dosing_started")
    if transport:
        _validate_text(
            transport_name=(transport.get("name", ""), TransportArrangement, "name"),
            transport_phone=(transport.get("phone", ""), TransportArrangement, "phone"),
            transport_relationship=(transport.get("relationship", ""), TransportArrangement, "relationship"),
        )
    arrival = late = None
    if creating or arrived_at is not None:
        opens = session.start - dt.timedelta(minutes=t.checkin_window_minutes)
        arrival, late = _entered_time(
            arrived_at,
            session=session,
            field="arrived_at",
            now=now,
            t=t,
            after_check_in=False,
            not_before=((opens, gettext("the opening of check-in")),),
        )
    ride_changes = {}
    if transport and transport.get("name"):
        arrangement, _ = TransportArrangement.objects.get_or_create(session=session)
        ride_before = values_of(arrangement, RIDE_FIELDS)
        arrangement.kind = transport.get("kind") or arrangement.kind
        arrangement.name = transport["name"]
        arrangement.phone = transport.get("phone", "")
        arrangement.relationship = transport.get("relationship", "")
        arrangement.status = TransportArrangement.Status.CONFIRMED_STAFF
        arrangement.confirmed_at = now
        arrangement.confirmed_by = user
        arrangement.save()
        ride_changes = {f"ride_{name}": pair for name, pair in changes_since(ride_before, arrangement).items()}
    ride_confirmed = TransportArrangement.objects.filter(session=session).exclude(status="unconfirmed").exists()
    values = {name: bool(checklist.get(name)) for name in CheckIn.CHECKLIST}
    values["transport_confirmed"] = values["transport_confirmed"] and ride_confirmed
    values["rems_enrolment_checked"] = values["rems_enrolment_checked"] and session.patient.is_rems_enrolled
    if creating:
        checkin = CheckIn(session=session, checked_in_by=user, created_at=now)
    if arrival is not None:
        checkin.arrived_at, checkin.arrival_late_entry = arrival, late
    checkin.notes = notes
    for name, value in values.items():
        setattr(checkin, name, value)
    checkin.full_clean(exclude=["session", "checked_in_by"], validate_unique=False, validate_constraints=False)
    checkin.save()
    if session.status == SessionStatus.BOOKED:
        _move_status(session, SessionStatus.CHECKED_IN)
    summary = _late(arrived_at=(arrival, late)) if arrival is not None else None
    changes = diff(before, values_of(checkin, CHECKIN_FIELDS))
    if creating:  # a new check-in: its empty notes are not a change
        changes = {name: pair for name, pair in changes.items() if pair[1] != ""}
    changes |= diff({"status": status_before}, {"status": session.status}) | ride_changes
    _audit(
        AuditAction.CREATE if creating else AuditAction.UPDATE,
        checkin,
        session=session,
        user=user,
        request=request,
        summary=summary,
        changes=changes,
    )
    if not creating:  # a completed checklist may lift a block raised by a pre-dose reading
        _dosing_alert_sync(session, user=user, request=request)
    return checkin


# --- Vitals ---------------------------------------------------------------------------


def _validate_values(values: dict) -> None:
    errors = rules.physiological_errors(values)
    missing = [f for f in READING_FIELDS if f != "cadss" and values.get(f) is None]
    for field in missing:
        errors[field] = gettext("Enter a value.")
    if errors:
        raise ValidationError({field: ValidationError(msg, code="out_of_range") for field, msg in errors.items()})


def _validate_text(**fields) -> None:
    """Refuse free text longer than its model field allows, beside the form field: each keyword is
    the form field, given (value, model) or (value, model, the model's field name)."""
    errors = {}
    for name, (value, model, *model_field) in fields.items():
        limit = model._meta.get_field(model_field[0] if model_field else name).max_length
        if limit and value and len(value) > limit:
            errors[name] = ValidationError(
                gettext("Keep this under %(limit)s characters.") % {"limit": limit}, code="max_length"
            )
    if errors:
        raise ValidationError(errors)


def _alert_for_reading(reading: VitalsReading, session: Session) -> None:
    if not reading.flags:
        return
    labels = ", ".join(gettext(f["label"]) for f in reading.flags)
    values = gettext(
        "BP %(systolic)s/%(diastolic)s, HR %(heart_rate)s, SpO2 %(spo2)s%%, RR %(respiratory_rate)s, MOAA/S %(moaas)s"
    ) % {
        name: getattr(reading, name)
        for name in ("systolic", "diastolic", "heart_rate", "spo2", "respiratory_rate", "moaas")
    }
    session_alert(
        session,
        kind="vitals_out_of_range",
        dedupe_key=f"vitals:reading:{reading.pk}",
        message=gettext("%(flags)s: %(patient)s, %(chair)s (%(values)s)")
        % {"flags": labels, "patient": session.patient.full_name, "chair": session.chair, "values": values},
        severity=rules.worst_severity(reading.flags),
        audience="nurse",
        url=session_url(session),
    )


def _save_reading(*, session: Session, user, kind: str, checkpoint_minute, taken_at, values, notes, t=None, **extra):
    """Write a reading whose values ``_validate_values`` accepted, and its alert."""
    t = t or current_thresholds()
    flags = [f.as_dict() for f in rules.reading_flags(values, t)]
    reading = VitalsReading.objects.create(
        session=session,
        kind=kind,
        checkpoint_minute=checkpoint_minute if kind == ReadingKind.CHECKPOINT else None,
        taken_at=taken_at,
        notes=notes,
        flags=flags,
        recorded_by=user,
        recorded_at=timezone.now(),
        **{field: values.get(field) for field in READING_FIELDS},
        dissociation=bool(values.get("dissociation")),
        **extra,
    )
    _alert_for_reading(reading, session)
    return reading


def _check_recordable(session: Session, kind: str, checkpoint_minute: int | None) -> None:
    if session.status in (SessionStatus.BOOKED, SessionStatus.CANCELLED, SessionStatus.NO_SHOW):
        raise ValidationError(gettext("Check the patient in before recording vitals."), code="not_checked_in")
    if session.status == SessionStatus.DISCHARGED:
        raise ValidationError(gettext("The patient has been discharged."), code="discharged")
    if kind == ReadingKind.PRE_DOSE and session.status != SessionStatus.CHECKED_IN:
        raise ValidationError(
            gettext("Dosing has started: this is no longer a pre-dose reading."), code="dosing_started"
        )
    if kind in (ReadingKind.CHECKPOINT, ReadingKind.DISCHARGE) and session.status != SessionStatus.IN_OBSERVATION:
        raise ValidationError(gettext("Observation checkpoints start with the first dose."), code="not_in_observation")
    if kind == ReadingKind.CHECKPOINT and not checkpoint_minute:
        raise ValidationError(gettext("Choose which checkpoint this reading is for."), code="checkpoint_missing")


def vitals_record(
    *,
    session: Session,
    user,
    kind: str,
    values: dict,
    taken_at: dt.datetime | None = None,
    checkpoint_minute: int | None = None,
    notes: str = "",
    t: rules.Thresholds | None = None,
    locked: bool = False,
    request=None,
) -> VitalsReading:
    """Save a reading. Impossible values are refused; values past an alert threshold are
    saved, flagged and raise a staff alert. ``t``: the thresholds when the caller has them.

    ``locked``: the caller read ``session`` with ``select_for_update`` in its open transaction
    (the vitals view does). The session is not read again, and the reading joins that
    transaction without a savepoint of its own: every refusal is raised before the first
    write, so the caller's transaction stays usable for the page that shows it."""
    _require(user, "monitoring.record_vitals")
    with nullcontext() if locked else transaction.atomic():
        session = session if locked else _lock(session)
        now = timezone.now()
        t = t or current_thresholds()
        _check_recordable(session, kind, checkpoint_minute)
        observation = _one(session, "observation")
        after_dose = kind in (ReadingKind.CHECKPOINT, ReadingKind.DISCHARGE) and observation is not None
        taken_at, late = _entered_time(
            taken_at,
            session=session,
            field="taken_at",
            now=now,
            t=t,
            not_before=((observation.started_at, gettext("the start of the dose")),) if after_dose else (),
        )
        _validate_values(values)
        _validate_text(notes=(notes, VitalsReading))
        with transaction.atomic(savepoint=False):
            reading = _save_reading(
                session=session,
                user=user,
                kind=kind,
                checkpoint_minute=checkpoint_minute,
                taken_at=taken_at,
                values=values,
                notes=notes,
                t=t,
                late_entry=late,
            )
            _audit(
                AuditAction.CREATE,
                reading,
                session=session,
                user=user,
                request=request,
                summary=_late(taken_at=(taken_at, late)),
                changes=_reading_changes(reading),
            )
            if kind == ReadingKind.PRE_DOSE:
                _dosing_alert_sync(session, user=user, request=request)
    return reading


@transaction.atomic
def vitals_correct(
    *, reading: VitalsReading, user, values: dict, reason: str, notes: str = "", request=None
) -> VitalsReading:
    """A new reading that supersedes ``reading``; the old one stays, marked as corrected."""
    _require(user, "monitoring.record_vitals")
    if not reason.strip():
        raise ValidationError({"reason": ValidationError(gettext("Say why the reading is corrected."), code="reason")})
    _validate_text(reason=(reason.strip(), VitalsReading, "correction_reason"), notes=(notes, VitalsReading))
    session = _lock(reading.session)
    if session.status == SessionStatus.DISCHARGED:
        raise ValidationError(
            gettext("The patient has been discharged: add an addendum with the reason instead."), code="discharged"
        )
    if VitalsReading.objects.filter(supersedes=reading).exists():
        raise ValidationError(gettext("This reading has already been corrected."), code="already_corrected")
    _validate_values(values)
    try:
        with transaction.atomic():
            new = _save_reading(
                session=session,
                user=user,
                kind=reading.kind,
                checkpoint_minute=reading.checkpoint_minute,
                taken_at=reading.taken_at,
                values=values,
                notes=notes,
                late_entry=reading.late_entry,
                supersedes=reading,
                correction_reason=reason.strip(),
            )
    except IntegrityError:
        raise ValidationError(gettext("This reading has already been corrected."), code="already_corrected") from None
    changes = diff(values_of(reading, READING_VALUES), values_of(new, READING_VALUES))
    changes["correction_reason"] = [None, new.correction_reason]
    summary = {"corrects": reading.pk, "kind": reading.kind}
    _audit(AuditAction.CREATE, new, session=session, user=user, request=request, summary=summary, changes=changes)
    # The corrected reading's alert is closed; the new reading raises its own when out of range.
    flagged = StaffAlert.objects.filter(dedupe_key=f"vitals:reading:{reading.pk}")
    _alerts_resolve(flagged, user=user, reason="reading corrected", request=request)
    if reading.kind == ReadingKind.PRE_DOSE and session.status == SessionStatus.CHECKED_IN:
        _dosing_alert_sync(session, user=user, request=request)
    return new


# --- Pre-dose gate and override -------------------------------------------------------


# In English; the refusal says it in the clinic's language.
PREDOSE_OVERRIDE_SAFETY_ONLY = gettext_noop(
    "A pre-dose override cannot lift the PHQ-9 item 9 wait, the only thing holding dosing: "
    'acknowledge the answer with a note under "Safety" at the top of this page.'
)


def dosing_blocks(session: Session, t: rules.Thresholds | None = None) -> list[str]:
    """What still blocks dosing, as stored now (see ``SessionDay.dosing_blocks``)."""
    return load_day(session.pk, t=t).dosing_blocks


@transaction.atomic
def predose_override(*, session: Session, user, reason: str, request=None) -> PrescriberOverride:
    """A prescriber lifts the current pre-dose block with a written reason."""
    _require(user, "monitoring.override_block")
    if not reason.strip():
        raise ValidationError({"reason": ValidationError(gettext("Write the reason for the override."), code="reason")})
    _validate_text(reason=(reason.strip(), PrescriberOverride))
    session = _lock(session)
    if session.status != SessionStatus.CHECKED_IN:
        raise ValidationError(gettext("Only a checked-in patient waiting for a dose can be overridden."), code="status")
    day = load_day(session.pk)
    if day.predose_reading is None:
        raise ValidationError(gettext("Record pre-dose vitals first."), code="no_predose")
    if not day.overridable_blocks:
        if day.safety_blocks:
            # An override here would lift nothing: only the acknowledgement releases the wait.
            raise ValidationError(gettext(PREDOSE_OVERRIDE_SAFETY_ONLY), code="safety_only")
        raise ValidationError(gettext("Dosing is not blocked."), code="not_blocked")
    override = PrescriberOverride.objects.create(
        session=session,
        kind=PrescriberOverride.Kind.PRE_DOSE,
        reading=day.predose_reading,
        blocks=day.overridable_blocks,
        reason=reason.strip(),
        prescriber=user,
    )
    _audit(
        AuditAction.CREATE,
        override,
        session=session,
        user=user,
        request=request,
        changes=created_changes(override, ("kind", "reading", "blocks", "reason")),
    )
    _dosing_alert_sync(session, user=user, request=request)
    return override


@transaction.atomic
def discharge_vitals_override(*, session: Session, user, reason: str, request=None) -> PrescriberOverride:
    """A prescriber accepts an out-of-range before-discharge reading with a written reason."""
    _require(user, "monitoring.override_block")
    if not reason.strip():
        raise ValidationError({"reason": ValidationError(gettext("Write the reason for the override."), code="reason")})
    _validate_text(reason=(reason.strip(), PrescriberOverride))
    session = _lock(session)
    reading = load_day(session.pk).discharge_reading
    if reading is None or not reading.flags:
        raise ValidationError(
            gettext("There is no out-of-range before-discharge reading to override."), code="not_blocked"
        )
    override = PrescriberOverride.objects.create(
        session=session,
        kind=PrescriberOverride.Kind.DISCHARGE_VITALS,
        reading=reading,
        blocks=[f["label"] for f in reading.flags],
        reason=reason.strip(),
        prescriber=user,
    )
    _audit(
        AuditAction.CREATE,
        override,
        session=session,
        user=user,
        request=request,
        changes=created_changes(override, ("kind", "reading", "blocks", "reason")),
    )
    return override


# --- Dose -----------------------------------------------------------------------------


def _start_observation(session: Session, started_at: dt.datetime) -> Observation:
    observation = Observation.objects.create(session=session, started_at=started_at)
    _move_status(session, SessionStatus.IN_OBSERVATION)
    return observation


@transaction.atomic
def dose_record(
    *,
    session: Session,
    user,
    dose_mg: Decimal,
    started_at: dt.datetime | None = None,
    lot_number: str = "",
    weight_kg: Decimal | None = None,
    mg_per_kg: Decimal | None = None,
    request=None,
) -> DoseRecord:
    """Start dosing: the first device (esketamine) or the infusion start (IV ketamine)
    begins the observation. Refused while a pre-dose block stands."""
    _require(user, "monitoring.record_vitals")
    session = _lock(session)
    if session.status != SessionStatus.CHECKED_IN:
        session.check_transition(SessionStatus.IN_OBSERVATION)
        raise ValidationError(gettext("Check the patient in first."), code="status")
    now = timezone.now()
    t = current_thresholds()
    day = load_day(session.pk, t=t, now=now)
    if day.dosing_blocks:
        raise ValidationError(
            gettext("Dosing blocked: %(blocks)s.") % {"blocks": "; ".join(day.dosing_blocks)}, code="blocked"
        )
    predose = day.predose_reading
    started_at, late = _entered_time(
        started_at,
        session=session,
        field="started_at",
        now=now,
        t=t,
        not_before=((predose.taken_at if predose else None, gettext("the pre-dose reading")),),
    )
    drug = day.drug
    esketamine = drug == Drug.ESKETAMINE
    dose_mg, weight_kg, mg_per_kg = (Decimal(v) if v is not None else None for v in (dose_mg, weight_kg, mg_per_kg))
    errors = rules.dose_errors(
        esketamine=esketamine,
        dose_mg=dose_mg,
        plan=day.dose_plan,
        first_of_course=day.first_of_course,
        first_dose_overridden=day.first_dose_override is not None,
        weight_kg=weight_kg,
        mg_per_kg=mg_per_kg,
        t=t,
    )
    if esketamine and not lot_number.strip():
        errors["lot_number"] = ("lot", gettext("Enter the lot number."))
    limit = DoseRecord._meta.get_field("lot_number").max_length
    if len(lot_number.strip()) > limit:
        errors["lot_number"] = (
            "max_length",
            gettext("Keep the lot number under %(limit)s characters.") % {"limit": limit},
        )
    if errors:
        raise ValidationError({field: ValidationError(message, code=code) for field, (code, message) in errors.items()})
    dose = DoseRecord(session=session, drug=drug, dose_mg=dose_mg, recorded_by=user, lot_number=lot_number.strip())
    if esketamine:
        dose.devices_planned = rules.devices_for_dose(dose_mg, t)
    else:
        dose.weight_kg, dose.mg_per_kg = weight_kg, mg_per_kg
        dose.dose_mg = rules.iv_total_mg(weight_kg, mg_per_kg)
        dose.infusion_start, dose.infusion_start_late_entry = started_at, late
    dose.created_at = now
    status_before = session.status
    dose.save()
    if dose.is_esketamine:
        DeviceAdministration.objects.create(
            dose=dose, number=1, administered_at=started_at, late_entry=late, recorded_by=user, recorded_at=now
        )
    _start_observation(session, started_at)
    changes = created_changes(dose, DOSE_FIELDS)
    if dose.is_esketamine:
        changes["first_device_at"] = [None, audit_value(started_at)]
    changes["status"] = [status_before, session.status]
    _audit(
        AuditAction.CREATE,
        dose,
        session=session,
        user=user,
        request=request,
        summary=_late(started_at=(started_at, late)),
        changes=changes,
    )
    _alerts_resolve(StaffAlert.objects.filter(session_id=session.pk, kind=DOSING_ALERT), user=user, reason="dosed")
    return dose


@transaction.atomic
def first_dose_override(*, session: Session, user, reason: str, request=None) -> PrescriberOverride:
    """A prescriber allows a first dose of the course other than the protocol's first dose."""
    _require(user, "monitoring.override_block")
    if not reason.strip():
        raise ValidationError({"reason": ValidationError(gettext("Write the reason for the override."), code="reason")})
    _validate_text(reason=(reason.strip(), PrescriberOverride))
    session = _lock(session)
    if session.status not in (SessionStatus.BOOKED, SessionStatus.CHECKED_IN):
        raise ValidationError(gettext("Dosing has started."), code="status")
    day = load_day(session.pk)
    if not day.first_dose_rule_applies:
        raise ValidationError(
            gettext("This is not the first dose of a course with a set first dose."), code="not_first"
        )
    override = PrescriberOverride.objects.create(
        session=session,
        kind=PrescriberOverride.Kind.FIRST_DOSE,
        blocks=[
            gettext("First dose of the course: %(dose)s mg") % {"dose": f"{day.dose_plan.first_dose_mg.normalize():f}"}
        ],
        reason=reason.strip(),
        prescriber=user,
    )
    _audit(
        AuditAction.CREATE,
        override,
        session=session,
        user=user,
        request=request,
        changes=created_changes(override, ("kind", "reading", "blocks", "reason")),
    )
    return override


@transaction.atomic
def dose_stop_early(
    *, session: Session, user, cause: str, adverse_event_id: int | None = None, note: str = "", request=None
) -> DoseRecord:
    """The nurse records why esketamine dosing stopped before every planned device: an adverse
    event of this session, or the patient's refusal. No further device is recorded after it."""
    _require(user, "monitoring.record_vitals")
    session = _lock(session)
    dose = DoseRecord.objects.filter(session=session, drug=Drug.ESKETAMINE).first()
    if dose is None or session.status != SessionStatus.IN_OBSERVATION:
        raise ValidationError(gettext("There is no esketamine dose under way."), code="no_dose")
    if dose.stopped_cause:
        raise ValidationError(gettext("Dosing is already recorded as stopped."), code="already")
    given = dose.devices.count()
    if given >= (dose.devices_planned or 0):
        raise ValidationError(gettext("Every planned device is recorded: dosing did not stop early."), code="complete")
    if cause not in StopCause.values:
        raise ValidationError({"cause": ValidationError(gettext("Choose why dosing stopped."), code="cause")})
    adverse_event = (
        AdverseEvent.objects.filter(pk=adverse_event_id, session=session).first() if adverse_event_id else None
    )
    if cause == StopCause.ADVERSE_EVENT and adverse_event is None:
        raise ValidationError(
            {"adverse_event": ValidationError(gettext("Choose the adverse event, or record it first."), code="event")}
        )
    _validate_text(note=(note, DoseRecord, "stopped_note"))
    before = values_of(dose, DOSE_STOP_FIELDS)
    dose.stopped_cause = cause
    dose.stopped_event = adverse_event if cause == StopCause.ADVERSE_EVENT else None
    dose.stopped_note = note.strip()
    dose.stopped_at, dose.stopped_by = timezone.now(), user
    dose.save(update_fields=["stopped_cause", "stopped_event", "stopped_note", "stopped_at", "stopped_by"])
    summary = {"stopped": cause, "devices_given": given, "devices_planned": dose.devices_planned}
    changes = changes_since(before, dose)
    _audit(AuditAction.UPDATE, dose, session=session, user=user, request=request, summary=summary, changes=changes)
    return dose


@transaction.atomic
def dose_device_record(
    *, session: Session, user, administered_at: dt.datetime | None = None, request=None
) -> DeviceAdministration:
    """The next esketamine device, at least the rest period after the previous one, during the
    observation (after discharge a late fact is an addendum)."""
    _require(user, "monitoring.record_vitals")
    session = _lock(session)
    if session.status == SessionStatus.DISCHARGED:
        raise ValidationError(
            {
                "administered_at": ValidationError(
                    gettext("The patient has been discharged: add an addendum with the reason instead."),
                    code="discharged",
                )
            }
        )
    dose = DoseRecord.objects.filter(session=session, drug=Drug.ESKETAMINE).first()
    if dose is None or session.status != SessionStatus.IN_OBSERVATION:
        raise ValidationError(gettext("Record the first device first."), code="no_dose")
    if dose.stopped_cause:
        raise ValidationError(gettext("Dosing was stopped early: no further device is given."), code="stopped")
    devices = list(dose.devices.all())
    if len(devices) >= (dose.devices_planned or 0):
        raise ValidationError(gettext("All devices for this dose are recorded."), code="complete")
    now = timezone.now()
    t = current_thresholds()
    administered_at, late = _entered_time(administered_at, session=session, field="administered_at", now=now, t=t)
    allowed_at = rules.next_device_at(
        devices_planned=dose.devices_planned,
        given_at=[d.administered_at for d in devices],
        stopped_early=bool(dose.stopped_cause),
        t=t,
    )
    if administered_at < allowed_at:
        local = allowed_at.astimezone(session.chair.site.tzinfo)
        raise ValidationError(
            {
                "administered_at": ValidationError(
                    gettext("Wait %(minutes)s minutes between devices: the next device is due from %(time)s.")
                    % {"minutes": t.device_rest_minutes, "time": when(local, "time_seconds")},
                    code="rest",
                )
            }
        )
    device = DeviceAdministration.objects.create(
        dose=dose,
        number=len(devices) + 1,
        administered_at=administered_at,
        late_entry=late,
        recorded_by=user,
        recorded_at=now,
    )
    _audit(
        AuditAction.CREATE,
        device,
        session=session,
        user=user,
        request=request,
        summary={**(_late(administered_at=(administered_at, late)) or {}), "devices_planned": dose.devices_planned},
        changes=created_changes(device, ("number", "administered_at", "late_entry")),
    )
    return device


@transaction.atomic
def dose_infusion_end(*, session: Session, user, ended_at: dt.datetime | None = None, request=None) -> DoseRecord:
    _require(user, "monitoring.record_vitals")
    session = _lock(session)
    dose = DoseRecord.objects.filter(session=session, drug=Drug.IV_KETAMINE).first()
    if dose is None or dose.infusion_end is not None or session.status != SessionStatus.IN_OBSERVATION:
        raise ValidationError(gettext("There is no running infusion."), code="no_infusion")
    now = timezone.now()
    ended_at, late = _entered_time(
        ended_at,
        session=session,
        field="ended_at",
        now=now,
        t=current_thresholds(),
        not_before=((dose.infusion_start, gettext("the infusion start")),),
    )
    if ended_at <= dose.infusion_start:
        raise ValidationError(
            {"ended_at": ValidationError(gettext("The infusion cannot end before it started."), code="order")}
        )
    before = values_of(dose, ("infusion_end", "infusion_end_late_entry"))
    dose.infusion_end, dose.infusion_end_late_entry = ended_at, late
    dose.save(update_fields=["infusion_end", "infusion_end_late_entry"])
    _audit(
        AuditAction.UPDATE,
        dose,
        session=session,
        user=user,
        request=request,
        summary=_late(ended_at=(ended_at, late)),
        changes=changes_since(before, dose),
    )
    return dose


# --- Adverse events -------------------------------------------------------------------


@transaction.atomic
def adverse_event_record(
    *,
    session: Session,
    user,
    kind: str,
    severity: str,
    action_taken: str,
    onset_at: dt.datetime | None = None,
    serious: bool = False,
    description: str = "",
    request=None,
) -> AdverseEvent:
    _require(user, "monitoring.record_vitals")
    session = _lock(session)
    if session.status not in (SessionStatus.CHECKED_IN, SessionStatus.IN_OBSERVATION):
        raise ValidationError(gettext("Adverse events are recorded during the session."), code="status")
    now = timezone.now()
    onset_at, late = _entered_time(onset_at, session=session, field="onset_at", now=now, t=current_thresholds())
    event = AdverseEvent(
        session=session,
        kind=kind,
        severity=severity,
        serious=serious,
        action_taken=action_taken,
        onset_at=onset_at,
        late_entry=late,
        description=description,
        recorded_by=user,
        recorded_at=now,
    )
    event.full_clean(exclude=["session", "recorded_by"], validate_constraints=False)
    event.save()
    if serious or severity == AdverseEvent.Severity.SEVERE:
        session_alert(
            session,
            kind="adverse_event",
            dedupe_key=f"adverse:event:{event.pk}",
            message=(
                gettext("Serious adverse event (%(kind)s): %(patient)s, %(chair)s")
                if serious
                else gettext("Severe adverse event (%(kind)s): %(patient)s, %(chair)s")
            )
            % {"kind": event.get_kind_display(), "patient": session.patient.full_name, "chair": session.chair},
            severity="critical",
            audience="nurse",
            url=session_url(session),
        )
    _audit(
        AuditAction.CREATE,
        event,
        session=session,
        user=user,
        request=request,
        summary=_late(onset_at=(onset_at, late)),
        changes=created_changes(
            event, ("kind", "severity", "serious", "action_taken", "onset_at", "late_entry", "description")
        ),
    )
    return event


# --- Discharge ------------------------------------------------------------------------


class DischargeRefused(ValidationError):
    def __init__(self, gate: rules.DischargeGate):
        super().__init__(list(gate.missing), code="gate")
        self.gate = gate


@transaction.atomic
def observation_discharge(
    *,
    session: Session,
    user,
    alert: bool,
    oriented: bool,
    steady: bool,
    picked_up_by: str,
    picked_up_relationship: str = "",
    picked_up_at: dt.datetime | None = None,
    would_have_been_ready_at: dt.datetime | None = None,
    notes: str = "",
    request=None,
) -> Discharge:
    """Discharge the patient when every condition holds, checked here on the server."""
    _require(user, "monitoring.record_vitals")
    _validate_text(
        picked_up_by=(picked_up_by.strip(), Discharge),
        picked_up_relationship=(picked_up_relationship.strip(), Discharge),
        notes=(notes, Discharge),
    )
    session = _lock(session)
    now = timezone.now()
    if session.status != SessionStatus.IN_OBSERVATION:
        session.check_transition(SessionStatus.DISCHARGED)
    day = load_day(session.pk, now=now)
    gate = day.discharge_gate(
        readiness={"alert": alert, "oriented": oriented, "steady": steady}, pickup_name=picked_up_by
    )
    if not gate.ok:
        raise DischargeRefused(gate)
    observation = day.observation
    if would_have_been_ready_at is not None and not observation.started_at <= would_have_been_ready_at <= now:
        raise ValidationError(
            {
                "would_have_been_ready_at": ValidationError(
                    gettext("Give a time between the first dose and now."), code="ready"
                )
            }
        )
    arrangement = day.transport
    matches = arrangement is not None and arrangement.name.strip().lower() == picked_up_by.strip().lower()
    try:
        with transaction.atomic():
            discharge = Discharge.objects.create(
                observation=observation,
                discharged_at=now,
                discharged_by=user,
                alert=alert,
                oriented=oriented,
                steady=steady,
                picked_up_by=picked_up_by.strip(),
                picked_up_relationship=picked_up_relationship.strip(),
                picked_up_at=picked_up_at or now,
                matches_arrangement=matches,
                would_have_been_ready_at=would_have_been_ready_at,
                notes=notes,
            )
    except IntegrityError:
        raise ValidationError(gettext("The patient has already been discharged."), code="already") from None
    status_before = session.status
    _move_status(session, SessionStatus.DISCHARGED)
    changes = created_changes(discharge, DISCHARGE_FIELDS) | {"status": [status_before, session.status]}
    _audit(AuditAction.CREATE, discharge, session=session, user=user, request=request, changes=changes)
    day_alerts = StaffAlert.objects.filter(session_id=session.pk, kind__in=DAY_ALERT_KINDS)
    _alerts_resolve(day_alerts, user=user, reason="patient discharged", request=request)
    return discharge


# --- Alerts that follow the facts -----------------------------------------------------

DOSING_ALERT = "dosing_blocked"
# The alerts of a session's day that its discharge closes: what they warn about is over. The
# PHQ-9 item-9 alert, adverse events and the REMS reminder stay open for a person's follow-up.
DAY_ALERT_KINDS = ("vitals_out_of_range", "checkpoint_overdue", "observation_past_end", DOSING_ALERT)


def _alerts_resolve(alerts, *, user, reason: str, request=None) -> int:
    """Close the open ``alerts`` (a StaffAlert queryset) as resolved by ``user`` now: each by a
    compare-and-set (an acknowledgement at the same moment wins once) with its audit row naming
    ``reason``. Returns how many were closed."""
    now = timezone.now()
    closed = 0
    for alert in alerts.filter(acknowledged_at__isnull=True):
        changed = StaffAlert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=now, acknowledged_by=user
        )
        if changed != 1:
            continue
        closed += 1
        who = user.pk if user is not None else None
        changes = {"acknowledged_at": [None, now.isoformat()], "acknowledged_by": [None, who]}
        summary = {"resolved": reason, "fields": ["acknowledged_at", "acknowledged_by"], "changes": changes}
        audit_record(
            action=AuditAction.UPDATE, request=request, user=user, obj=alert, patient=alert.patient_id, summary=summary
        )
    return closed


def _dosing_alert_sync(session: Session, *, user, request=None) -> None:
    """Once the write commits, ``dosing_alert_sync`` for the session: the nurse's write reads the
    session once, under its lock, and a refused write raises nothing."""
    transaction.on_commit(lambda: dosing_alert_sync(session_id=session.pk, user=user, request=request))


@transaction.atomic
def dosing_alert_sync(*, session_id: int, user, request=None) -> None:
    """While a checked-in patient's dosing is blocked after a pre-dose reading, one open alert for
    the site's prescribers (raised for that reading: a newer reading replaces it); once dosing is
    no longer blocked (an override, a reading in range, the dose) the alert is closed."""
    day = load_day(session_id)
    session = day.session
    stale = StaffAlert.objects.filter(session_id=session.pk, kind=DOSING_ALERT)
    reading = day.predose_reading
    if day.dosing_blocked and reading is not None:
        key = f"dosing:reading:{reading.pk}"
        blocks = "; ".join(day.dosing_blocks)
        session_alert(
            session,
            kind=DOSING_ALERT,
            dedupe_key=key,
            message=gettext("Dosing blocked: %(patient)s, %(chair)s (%(blocks)s)")
            % {"patient": session.patient.full_name, "chair": session.chair, "blocks": blocks},
            severity="warning",
            audience="prescriber",
            url=session_url(session),
        )
        _alerts_resolve(stale.exclude(dedupe_key=key), user=user, reason="newer pre-dose reading", request=request)
        return
    _alerts_resolve(stale, user=user, reason="dosing no longer blocked", request=request)


def alerts_close_after_discharge() -> int:
    """Close the day's alerts of discharged sessions left open (raised by a scan that ran while
    the patient was discharged), as resolved by the nurse who discharged. Safe to run twice."""
    closed = 0
    open_ = StaffAlert.objects.filter(acknowledged_at__isnull=True, kind__in=DAY_ALERT_KINDS, session_id__isnull=False)
    discharges = Discharge.objects.filter(
        observation__session_id__in=open_.values("session_id"), observation__session__status=SessionStatus.DISCHARGED
    ).select_related("observation", "discharged_by")
    for discharge in discharges:
        alerts = open_.filter(session_id=discharge.observation.session_id)
        closed += _alerts_resolve(alerts, user=discharge.discharged_by, reason="patient discharged")
    return closed


# --- REMS -----------------------------------------------------------------------------


@transaction.atomic
def rems_mark_submitted(
    *, session: Session, user, submitted_on: dt.date, reference: str = "", request=None
) -> RemsSubmission:
    _require(user, "monitoring.submit_rems")
    _validate_text(reference=(reference, RemsSubmission))
    if session.status != SessionStatus.DISCHARGED:
        raise ValidationError(gettext("The monitoring record is complete only after discharge."), code="not_discharged")
    if submitted_on > session.chair.site.local_today():
        raise ValidationError(
            {"submitted_on": ValidationError(gettext("The date cannot be in the future."), code="future")}
        )
    record = rems_records([rems_sessions().get(pk=session.pk)], today_for=lambda s: s.chair.site.local_today())[0]
    if not record.complete:
        raise ValidationError(
            gettext(
                "The monitoring record is incomplete (missing: %(missing)s): add the missing fields as addenda "
                "before marking it submitted."
            )
            % {"missing": ", ".join(record.missing)},
            code="incomplete",
        )
    submission, created = RemsSubmission.objects.get_or_create(
        session=session, defaults={"submitted_on": submitted_on, "submitted_by": user, "reference": reference}
    )
    if not created:
        raise ValidationError(gettext("This record is already marked as submitted."), code="already")
    changes = created_changes(submission, ("submitted_on", "reference"))
    _audit(AuditAction.CREATE, submission, session=session, user=user, request=request, changes=changes)
    return submission


# --- Addenda --------------------------------------------------------------------------


@transaction.atomic
def addendum_record(*, session: Session, user, value: str, reason: str, field: str = "", request=None) -> Addendum:
    """A fact added after the discharge, with the reason (who and when are recorded). ``field``:
    the missing REMS monitoring record field it supplies (its key: the English label, whatever
    the clinic's language), so every record can be completed; empty for a late fact of the day,
    shown on the session page and the record."""
    if not (user.has_perm("monitoring.record_vitals") or user.has_perm("monitoring.submit_rems")):
        raise PermissionDenied
    session = _lock(session)
    if session.status != SessionStatus.DISCHARGED:
        raise ValidationError(
            gettext("Addenda are added after the discharge: record the fact on the session day."), code="not_discharged"
        )
    value, reason = value.strip(), reason.strip()
    errors = {}
    if not reason:
        errors["reason"] = ValidationError(gettext("Say why this is added afterwards."), code="reason")
    if field:
        if RemsSubmission.objects.filter(session=session).exists():
            raise ValidationError(gettext("The record has been submitted: it can no longer change."), code="submitted")
        record = rems_records(rems_sessions().filter(pk=session.pk), today_for=lambda s: s.chair.site.local_today())[0]
        if field not in rules.rems_addendable(record.fields):
            errors["field"] = ValidationError(gettext("This field is not missing from the record."), code="not_missing")
        else:
            total = next(f.value for f in record.fields if f.key.startswith("Total minutes"))
            error = rules.rems_addendum_error(field, value, total_minutes=total)
            if error:
                errors["value"] = ValidationError(error[1], code=error[0])
    elif not value:
        errors["value"] = ValidationError(gettext("Write the fact to add."), code="required")
    if errors:
        raise ValidationError(errors)
    _validate_text(value=(value, Addendum), reason=(reason, Addendum))
    addendum = Addendum.objects.create(session=session, field=field, value=value, reason=reason, recorded_by=user)
    changes = created_changes(addendum, ("field", "value", "reason"))
    _audit(
        AuditAction.CREATE,
        addendum,
        session=session,
        user=user,
        request=request,
        summary={"field": field},
        changes=changes,
    )
    return addendum
