"""Writes of measurement-based care: a questionnaire answered by the patient, a clinician's
rating (a worsening one flags the course for the prescriber's review), the prescriber's
acknowledgement of a positive safety item, the antidepressant history and the eligibility
override. Each writes its own audit row."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from clinic.audit import audit_record, changes_since, created_changes, values_of
from clinic.formats import when
from clinic.models import AlertSeverity, AuditAction, Patient, StaffAlert
from clinic.services import alert_acknowledge, alert_raise
from clinic.text import strip_invisible
from scheduling import services as scheduling_services
from scheduling.models import Protocol, Session, SessionStatus

from . import instruments, rules_outcomes
from .models_outcomes import AntidepressantTrial, EligibilityOverride, OutcomeScore, SafetyReview
from .selectors_outcomes import eligibility_reasons

# A patient may answer (and change) their questionnaire until the session starts, while it is
# still booked or checked in.
PATIENT_EDITABLE = (SessionStatus.BOOKED, SessionStatus.CHECKED_IN)
# A clinician rates on the session's day: not for a cancelled or missed session.
CLINICIAN_RATABLE = (
    SessionStatus.BOOKED,
    SessionStatus.CHECKED_IN,
    SessionStatus.IN_OBSERVATION,
    SessionStatus.DISCHARGED,
)
SAFETY_ALERT = "outcome_safety"
WORSENING_ALERT = "outcome_worsening"


def _require(user, perm: str) -> None:
    if not user.has_perm(perm):
        raise PermissionDenied


def _check_answers(instrument: instruments.Instrument, answers: list, functional: int | None) -> None:
    errors = rules_outcomes.answer_errors(instrument, answers)
    if errors:
        raise ValidationError({f"item_{n}": ValidationError(message, code="answer") for n, message in errors.items()})
    if functional is not None and functional not in {o.value for o in instrument.functional_options}:
        raise ValidationError({"functional": ValidationError(gettext("Choose an answer."), code="answer")})


SCORE_FIELDS = ("answers", "functional", "total", "safety_positive", "source")


def _save_score(
    *, session: Session, code: str, source: str, answers: list[int], functional: int | None, user
) -> tuple[OutcomeScore, bool, dict]:
    """Create the session's score of ``code`` or change it (a new version); (score, created,
    the audit row's ``changes``: the answers and total before and after)."""
    instrument = instruments.get(code)
    _check_answers(instrument, answers, functional)
    values = {
        "answers": list(answers),
        "functional": functional if instrument.functional_options else None,
        "total": rules_outcomes.total(instrument, answers),
        "safety_positive": rules_outcomes.safety_positive(instrument, answers),
        "source": source,
        "recorded_by": user,
        "updated_at": timezone.now(),
    }
    score = OutcomeScore.objects.select_for_update().filter(session=session, instrument=code).first()
    if score is None:
        try:
            with transaction.atomic():
                score = OutcomeScore.objects.create(
                    session=session, patient_id=session.patient_id, instrument=code, **values
                )
        except IntegrityError:
            raise ValidationError(
                gettext("These answers were just saved from another page: reload it."), code="exists"
            ) from None
        return score, True, created_changes(score, SCORE_FIELDS)
    if score.answers == values["answers"] and score.functional == values["functional"]:
        return score, False, {}
    before = values_of(score, SCORE_FIELDS)
    for field, value in values.items():
        setattr(score, field, value)
    score.version += 1
    score.save()
    return score, False, changes_since(before, score)


def _raise_safety_alert(score: OutcomeScore, session: Session) -> None:
    """An immediate high-priority alert for the site's nurses and prescribers, once per version
    of the answers."""
    if not score.safety_positive:
        return
    local = session.local_start()
    alert_raise(
        kind=SAFETY_ALERT,
        dedupe_key=f"outcome-safety:score:{score.pk}:v{score.version}",
        message=gettext(
            "%(patient)s: PHQ-9 item 9 answered above 0 before the session of %(time)s. Follow up today; "
            "dosing waits for a prescriber's acknowledgement."
        )
        % {"patient": session.patient.full_name, "time": when(local, "day_time")},
        severity=AlertSeverity.CRITICAL,
        audience="nurse",
        site_id=session.chair.site_id,
        patient_id=session.patient_id,
        session_id=session.pk,
        url=reverse("monitoring:session-day", args=[session.pk]),
    )


def worsening_flag_key(score: OutcomeScore) -> str:
    """The one review flag a score can raise (``scheduling.CourseReviewFlag.key``)."""
    return f"outcome-score:{score.pk}"


def _worsening_follow_up(score: OutcomeScore, session: Session, *, user=None, request=None) -> None:
    """A score at least the scale's own threshold above the course's baseline (its first score
    of the scale): the site's prescribers and nurses get an alert (once per version of the
    score), and the running course goes on the prescribers' review worklist, its sessions
    untouched (one flag per score, brought up to date by a correction). A correction that is
    no longer worse by the threshold takes the course off the worklist, unless a prescriber
    has already decided on it."""
    if not session.course_id:
        return
    baseline = (
        OutcomeScore.objects.filter(session__course_id=session.course_id, instrument=score.instrument)
        .exclude(pk=score.pk)
        .order_by("session__start", "pk")
        .filter(session__start__lt=session.start)
        .first()
    )
    instrument = score.definition
    key = worsening_flag_key(score)
    if baseline is None or not rules_outcomes.is_worsening(instrument, baseline.total, score.total):
        if baseline is not None:
            scheduling_services.course_flag_clear(
                key=key,
                reason=gettext(
                    "%(scale)s corrected to %(total)s (baseline %(baseline)s): no longer worse by %(points)s or more"
                )
                % {
                    "scale": instrument.name,
                    "total": score.total,
                    "baseline": baseline.total,
                    "points": instrument.worsening_points,
                },
                user=user,
                request=request,
            )
        return
    words = gettext("%(scale)s %(baseline)s -> %(total)s since the baseline (worse by %(points)s or more)") % {
        "scale": instrument.name,
        "baseline": baseline.total,
        "total": score.total,
        "points": instrument.worsening_points,
    }
    alert_raise(
        kind=WORSENING_ALERT,
        dedupe_key=f"outcome-worsening:score:{score.pk}:v{score.version}",
        message=gettext("%(patient)s: %(worsening)s. Review the course.")
        % {"patient": session.patient.full_name, "worsening": words},
        severity=AlertSeverity.WARNING,
        audience="nurse",
        site_id=session.chair.site_id,
        patient_id=session.patient_id,
        session_id=session.pk,
        url=reverse("scheduling:course-detail", args=[session.course_id]),
    )
    scheduling_services.course_flag_raise(
        course=session.course,
        key=key,
        reason=words,
        detail={
            "instrument": instrument.code,
            "baseline": baseline.total,
            "current": score.total,
            "threshold": instrument.worsening_points,
            "score": score.pk,
            "version": score.version,
        },
        session=session,
        raised_by=user,
        request=request,
    )


def _lock_session(session: Session) -> Session:
    return Session.objects.select_for_update(of=("self",)).select_related("chair__site", "patient").get(pk=session.pk)


@transaction.atomic
def questionnaire_save(*, session: Session, answers: dict[str, list[int]], functional: int | None, request=None):
    """The patient's answers from their link (one questionnaire per session, changed until the
    session starts). Audited as a patient action. Returns the scores saved."""
    session = _lock_session(session)
    if session.status not in PATIENT_EDITABLE or timezone.now() >= session.start:
        raise ValidationError(
            gettext("This questionnaire can no longer be changed: the appointment has started."), code="closed"
        )
    saved = []
    for code, item_answers in answers.items():
        if not instruments.get(code).is_self_report:
            raise ValidationError(gettext("Unknown questionnaire."), code="instrument")
        score, created, changes = _save_score(
            session=session,
            code=code,
            source=OutcomeScore.Source.PATIENT,
            answers=item_answers,
            functional=functional if code == instruments.PHQ9 else None,
            user=None,
        )
        _raise_safety_alert(score, session)
        _worsening_follow_up(score, session, request=request)
        audit_record(
            action=AuditAction.CREATE if created else AuditAction.UPDATE,
            request=request,
            obj=score,
            patient=session.patient_id,
            actor="patient",
            summary={"instrument": code, "version": score.version, "via": "reminder link", "changes": changes},
        )
        saved.append(score)
    return saved


@transaction.atomic
def rating_record(*, session: Session, user, instrument: str, answers: list[int], request=None) -> OutcomeScore:
    """A clinician's rating (or a questionnaire taken with the patient) on the session-day page."""
    _require(user, "monitoring.record_outcomes")
    session = _lock_session(session)
    if session.status not in CLINICIAN_RATABLE:
        raise ValidationError(
            gettext("A %(status)s session cannot be rated."),
            code="status",
            params={"status": session.get_status_display().lower()},
        )
    if instrument not in instruments.INSTRUMENTS:
        raise ValidationError({"instrument": ValidationError(gettext("Choose a scale."), code="instrument")})
    source = (
        OutcomeScore.Source.CLINICIAN if not instruments.get(instrument).is_self_report else OutcomeScore.Source.PATIENT
    )
    score, created, changes = _save_score(
        session=session, code=instrument, source=source, answers=answers, functional=None, user=user
    )
    _raise_safety_alert(score, session)
    _worsening_follow_up(score, session, user=user, request=request)
    audit_record(
        action=AuditAction.CREATE if created else AuditAction.UPDATE,
        request=request,
        user=user,
        obj=score,
        patient=session.patient_id,
        summary={"instrument": instrument, "version": score.version, "changes": changes},
    )
    return score


@transaction.atomic
def safety_acknowledge(*, score: OutcomeScore, user, note: str, request=None) -> SafetyReview:
    """A prescriber acknowledges a positive safety item with a note: dosing may then go ahead
    (for these answers), and the alert is marked acknowledged."""
    _require(user, "monitoring.override_block")
    note = strip_invisible(note or "").strip()
    if not note:
        raise ValidationError(
            {"note": ValidationError(gettext("Write what was done (e.g. the risk assessment)."), code="note")}
        )
    score = OutcomeScore.objects.select_for_update().get(pk=score.pk)
    if not score.safety_positive:
        raise ValidationError(gettext("Nothing to acknowledge: the safety item is not positive."), code="not_positive")
    try:
        with transaction.atomic():
            review = SafetyReview.objects.create(score=score, version=score.version, note=note, prescriber=user)
    except IntegrityError:
        raise ValidationError(gettext("Already acknowledged."), code="already") from None
    for alert in StaffAlert.objects.filter(
        kind=SAFETY_ALERT, dedupe_key__startswith=f"outcome-safety:score:{score.pk}:", acknowledged_at__isnull=True
    ):
        alert_acknowledge(alert=alert, user=user, request=request)
    audit_record(
        action=AuditAction.CREATE,
        request=request,
        user=user,
        obj=review,
        patient=score.patient_id,
        summary={"score": score.pk, "version": score.version, "changes": created_changes(review, ["note"])},
    )
    return review


TRIAL_FIELDS = ("drug", "dose", "adequate_dose", "weeks", "outcome")


@transaction.atomic
def trial_add(
    *, patient: Patient, user, drug: str, dose: str, adequate_dose: bool, weeks: int, outcome: str, request=None
) -> AntidepressantTrial:
    _require(user, "monitoring.record_outcomes")
    trial = AntidepressantTrial(
        patient=patient,
        drug=strip_invisible(drug).strip(),
        dose=strip_invisible(dose).strip(),
        adequate_dose=adequate_dose,
        weeks=weeks,
        outcome=outcome,
        recorded_by=user,
    )
    trial.full_clean()
    trial.save()
    audit_record(
        action=AuditAction.CREATE,
        request=request,
        user=user,
        obj=trial,
        patient=patient.pk,
        summary={"changes": created_changes(trial, TRIAL_FIELDS)},
    )
    return trial


@transaction.atomic
def trial_update_outcome(*, trial: AntidepressantTrial, user, outcome: str, weeks: int, request=None):
    """A trial goes on or ends (e.g. the current antidepressant stopped after 8 weeks)."""
    _require(user, "monitoring.record_outcomes")
    before = values_of(trial, ["outcome", "weeks"])
    trial.outcome, trial.weeks = outcome, weeks
    trial.full_clean()
    trial.save(update_fields=["outcome", "weeks"])
    audit_record(
        action=AuditAction.UPDATE,
        request=request,
        user=user,
        obj=trial,
        patient=trial.patient_id,
        summary={"fields": ["outcome", "weeks"], "changes": changes_since(before, trial)},
    )
    return trial


@transaction.atomic
def eligibility_override(
    *, patient: Patient, protocol: Protocol, user, reason: str, request=None
) -> EligibilityOverride:
    """A prescriber lets the patient start the protocol's course despite the reasons shown now."""
    _require(user, "monitoring.override_block")
    reason = strip_invisible(reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ValidationError(gettext("Write the reason for the override."), code="reason")})
    reasons = eligibility_reasons(patient=patient, protocol=protocol, overrides=False)
    if not reasons:
        raise ValidationError(
            gettext("Nothing to override: the patient meets the protocol's criteria."), code="not_blocked"
        )
    override = EligibilityOverride(patient=patient, protocol=protocol, reasons=reasons, reason=reason, prescriber=user)
    override.full_clean()
    override.save()
    audit_record(
        action=AuditAction.CREATE,
        request=request,
        user=user,
        obj=override,
        patient=patient.pk,
        summary={"protocol": protocol.pk, "reasons": reasons, "changes": created_changes(override)},
    )
    return override
