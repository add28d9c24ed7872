"""Reads for the session-day page and the REMS record (the board's are in selectors_board).
Each page loads what it needs in a fixed number of queries, then works on plain objects with
monitoring.rules."""

import dataclasses
import datetime as dt
import functools

from django.db import connection
from django.db.models import Min, Prefetch, Q
from django.utils import timezone

from clinic.models import Chair, Site
from clinic.rows import instances_from, select_list
from clinic.rules import CONCOMITANT_MEDICINE_FIELDS
from scheduling.models import Course, Drug, Protocol, Session, SessionStatus

from . import rules
from .models import (
    THRESHOLDS_ID,
    ClinicalThresholds,
    Observation,
    PrescriberOverride,
    ReadingKind,
    VitalsReading,
    current_thresholds,
)
from .services import gate_from, latest_of_kind, predose_state, session_drug

ACTIVE_STATUSES = (SessionStatus.CHECKED_IN, SessionStatus.IN_OBSERVATION)


def _one(obj, name):
    """A reverse one-to-one loaded by select_related, or None when there is no row."""
    try:
        return getattr(obj, name)
    except obj.__class__._meta.get_field(name).related_model.DoesNotExist:
        return None


def checkpoint_minutes(session: Session, t: rules.Thresholds) -> list[int]:
    protocol_minutes = session.course.protocol.checkpoint_minutes if session.course_id else None
    return rules.observation_checkpoint_minutes(protocol_minutes, t)


def checkpoint_choices(session: Session, t: rules.Thresholds) -> list[tuple[str, str]]:
    """(key, label) of the readings a nurse may take now: the pre-dose reading before dosing,
    then the observation checkpoints and an extra reading. Needs the session's observation
    (and course protocol) loaded with it."""
    if session.status == SessionStatus.CHECKED_IN:
        return [(rules.PRE_DOSE, "Pre-dose")]
    observation = _one(session, "observation")
    schedule = (
        rules.checkpoint_schedule(started_at=observation.started_at, minutes=checkpoint_minutes(session, t), t=t)
        if observation
        else []
    )
    return [(key, label) for key, label, _ in schedule] + [(rules.EXTRA, "Extra reading")]


_READING_MODELS = (Session, Chair, Site, Course, Protocol, Observation, ClinicalThresholds)


@functools.cache
def _reading_session_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    session, chair, site, course, protocol, observation, thresholds = (quote(m._meta.db_table) for m in _READING_MODELS)

    def column(model, name):
        return quote(model._meta.get_field(name).column)

    sql = f"""SELECT {select_list(*_READING_MODELS)} FROM {session}
        JOIN {chair} ON {chair}.id = {session}.{column(Session, "chair")}
        JOIN {site} ON {site}.id = {chair}.{column(Chair, "site")}
        LEFT JOIN {course} ON {course}.id = {session}.{column(Session, "course")}
        LEFT JOIN {protocol} ON {protocol}.id = {course}.{column(Course, "protocol")}
        LEFT JOIN {observation} ON {observation}.{column(Observation, "session")} = {session}.id
        LEFT JOIN {thresholds} ON {thresholds}.id = {THRESHOLDS_ID}
        WHERE {session}.id = %s"""  # noqa: S608 - names from the models' metadata, the id is a parameter
    if connection.features.has_select_for_update_of:
        sql += f" FOR UPDATE OF {session}"
    return sql


def session_for_reading(pk: int) -> tuple[Session, rules.Thresholds] | None:
    """The session a reading is recorded for, read under its row lock (held to the end of the
    transaction) with its chair and site, course and protocol and observation (what
    ``checkpoint_choices`` and ``services.vitals_record`` use), and the clinical thresholds in
    force. One plain statement: the ORM took twice as long to build this query as PostgreSQL
    to run it, and the thresholds were a round trip of their own. None: no such session."""
    with connection.cursor() as cursor:
        cursor.execute(_reading_session_sql(connection.vendor), [pk])
        row = cursor.fetchone()
    if row is None:
        return None
    session, chair, site, course, protocol, observation, thresholds = instances_from(row, *_READING_MODELS)
    chair.site = site
    session.chair = chair
    if course is not None:
        course.protocol = protocol
        session.course = course
    if observation is not None:
        session.observation = observation
    else:  # known to have none, as select_related leaves it: no query when asked
        Session.observation.related.set_cached_value(session, None)
    return session, thresholds.as_rules() if thresholds else current_thresholds()


def session_queryset():
    """Sessions with everything the session day needs; readings come as ``effective_readings``
    (corrected ones left out)."""
    readings = Prefetch(
        "readings",
        queryset=VitalsReading.objects.filter(superseded_by__isnull=True).order_by("taken_at", "pk"),
        to_attr="effective_readings",
    )
    return Session.objects.select_related(
        "chair__site",
        "patient",
        "course__protocol",
        "transport",
        "checkin",
        "dose",
        "observation__discharge",
    ).prefetch_related(
        readings,
        Prefetch("overrides", queryset=PrescriberOverride.objects.order_by("created_at"), to_attr="override_list"),
    )


@dataclasses.dataclass
class SessionDay:
    """Everything the session page shows about one session (the board reads plain rows: see
    ``selectors_board``)."""

    session: Session
    t: rules.Thresholds
    now: dt.datetime
    checkin: object = None
    dose: object = None
    observation: object = None
    discharge: object = None
    transport: object = None
    readings: list = dataclasses.field(default_factory=list)
    overrides: list = dataclasses.field(default_factory=list)
    checkpoints: list = dataclasses.field(default_factory=list)
    dosing_blocks: list = dataclasses.field(default_factory=list)
    predose_override: object = None
    board_gate: rules.DischargeGate | None = None

    @property
    def drug(self) -> str:
        return session_drug(self.session)

    @property
    def is_esketamine(self) -> bool:
        return self.drug == Drug.ESKETAMINE

    @property
    def latest_reading(self):
        return self.readings[-1] if self.readings else None

    @property
    def predose_reading(self):
        return latest_of_kind(self.readings, ReadingKind.PRE_DOSE)

    @property
    def discharge_reading(self):
        return latest_of_kind(self.readings, ReadingKind.DISCHARGE)

    @property
    def minutes_since_dose(self) -> int | None:
        return rules.minutes_between(self.observation.started_at if self.observation else None, self.now)

    @property
    def next_checkpoint(self):
        return rules.next_checkpoint(self.checkpoints)

    @property
    def overdue(self) -> list:
        return rules.overdue_checkpoints(self.checkpoints)

    @property
    def discharge_override(self):
        reading = self.discharge_reading
        return next(
            (
                o
                for o in self.overrides
                if reading and o.kind == PrescriberOverride.Kind.DISCHARGE_VITALS and o.reading_id == reading.pk
            ),
            None,
        )

    @property
    def transport_confirmed(self) -> bool:
        return self.transport is not None and self.transport.is_confirmed


def build_day(session: Session, *, t: rules.Thresholds, now: dt.datetime) -> SessionDay:
    day = SessionDay(
        session=session,
        t=t,
        now=now,
        checkin=_one(session, "checkin"),
        dose=_one(session, "dose"),
        observation=_one(session, "observation"),
        transport=_one(session, "transport"),
        readings=session.effective_readings,
        overrides=session.override_list,
    )
    if day.observation is not None:
        day.discharge = _one(day.observation, "discharge")
    if session.status in (SessionStatus.BOOKED, SessionStatus.CHECKED_IN):
        blocks, override = predose_state(
            session, readings=day.readings, checkin=day.checkin, overrides=day.overrides, t=t
        )
        day.predose_override = override
        day.dosing_blocks = [b for b in blocks if not override or b not in override.blocks]
    else:
        day.predose_override = next((o for o in day.overrides if o.kind == PrescriberOverride.Kind.PRE_DOSE), None)
    if day.observation is not None:
        done = {r.checkpoint_key for r in day.readings}
        day.checkpoints = rules.checkpoint_states(
            started_at=day.observation.started_at,
            minutes=checkpoint_minutes(session, t),
            done_keys=done,
            now=now,
            t=t,
        )
        if session.status == SessionStatus.IN_OBSERVATION:
            # What the stored record still lacks (as the board shows it, see selectors_board);
            # readiness and the person taking the patient home are confirmed in the discharge
            # form itself.
            day.board_gate = gate_from(
                session=session,
                observation=day.observation,
                readings=day.readings,
                overrides=day.overrides,
                readiness=dict.fromkeys(rules.READINESS_LABELS, True),
                pickup_name="-",
                now=now,
                t=t,
            )
    return day


def session_day(session_pk: int, *, now: dt.datetime | None = None) -> SessionDay:
    now = now or timezone.now()
    session = session_queryset().get(pk=session_pk)
    return build_day(session, t=current_thresholds(), now=now)


def all_readings(session: Session) -> list[VitalsReading]:
    """Every reading, corrected ones included, oldest first, with who recorded it."""
    return list(
        VitalsReading.objects.filter(session=session)
        .select_related("recorded_by", "superseded_by")
        .order_by("taken_at", "pk")
    )


# --- REMS monitoring record -----------------------------------------------------------


@dataclasses.dataclass
class RemsRecord:
    session: Session
    fields: list
    submission: object
    treatment_date: dt.date
    days_left: int

    @property
    def missing(self) -> list[str]:
        return rules.rems_missing(self.fields)

    @property
    def complete(self) -> bool:
        return not self.missing

    def sections(self) -> list[tuple[str, list]]:
        out: dict[str, list] = {}
        for f in self.fields:
            out.setdefault(f.section, []).append(f)
        return list(out.items())


def _bp(reading) -> str | None:
    return f"{reading.systolic}/{reading.diastolic}" if reading else None


def _name(user) -> str | None:
    return (user.get_full_name() or user.get_username()) if user else None


def rems_record(
    session: Session,
    *,
    today: dt.date | None = None,
    t: rules.Thresholds | None = None,
    first_treatment: bool | None = None,
) -> RemsRecord:
    """The REMS monitoring record assembled from what the nurses entered. Lists of records
    pass ``t`` and ``first_treatment`` (see ``rems_records``), so each record costs no query."""
    t = t or current_thresholds()
    site = session.chair.site
    today = today or site.local_today()
    patient = session.patient
    checkin, observation = _one(session, "checkin"), _one(session, "observation")
    dose = _one(session, "dose")
    discharge = _one(observation, "discharge") if observation else None
    readings = [r for r in session.effective_readings]
    events = list(session.adverse_events.all())
    predose = latest_of_kind(readings, ReadingKind.PRE_DOSE)
    before_discharge = latest_of_kind(readings, ReadingKind.DISCHARGE)
    minutes = checkpoint_minutes(session, t)
    first_minute = min(minutes) if minutes else None
    mid = next((r for r in readings if r.kind == ReadingKind.CHECKPOINT and r.checkpoint_minute == first_minute), None)
    started = observation.started_at if observation else None
    if first_treatment is None:
        first_treatment = is_first_treatment(session, first_discharge_starts([session.patient_id]))
    event_kinds = {e.kind for e in events}
    serious = [f"{e.get_kind_display()} ({e.get_severity_display().lower()})" for e in events if e.serious]
    clinician = discharge.discharged_by if discharge else (checkin.checked_in_by if checkin else None)
    dose_mg = dose.dose_mg if dose else None
    S = rules.RemsField
    yn = rules.yes_no
    fields = [
        S("Patient", "Patient name", patient.full_name),
        S("Patient", "Date of birth", patient.date_of_birth),
        S("Patient", "Sex", patient.get_sex_display()),
        S("Patient", "First treatment", yn(first_treatment)),
        S("Patient", "Enrolled in REMS", f"Yes ({patient.rems_enrollment_id})" if patient.is_rems_enrolled else None),
        *[
            S(
                "Concomitant medicines",
                str(patient._meta.get_field(name).verbose_name).capitalize(),
                yn(getattr(patient, name)),
            )
            for name in CONCOMITANT_MEDICINE_FIELDS
        ],
        S("Treatment", "Monitoring clinician", _name(clinician)),
        S("Treatment", "Site", site.name),
        S("Treatment", "Treatment date", session.local_start().date()),
        S("Treatment", "Dose", f"{dose_mg.normalize():f} mg" if dose_mg is not None else None),
        S("Treatment", "Lot number", dose.lot_number if dose else None),
        S(
            "Monitoring",
            "Total minutes from first device to end of monitoring",
            rules.minutes_between(started, discharge.discharged_at if discharge else None),
        ),
        S(
            "Monitoring",
            "Minutes until the patient would have been ready to leave",
            rules.minutes_between(started, discharge.would_have_been_ready_at if discharge else None),
        ),
        S(
            "Monitoring",
            "Vital signs in range before dosing",
            yn(not rules.bp_above_predose_limit(predose.systolic, predose.diastolic, t) and not predose.flags)
            if predose
            else None,
        ),
        S(
            "Monitoring",
            "Vital signs in range before discharge",
            yn(not before_discharge.flags) if before_discharge else None,
        ),
        S("Monitoring", "BP before dosing", _bp(predose)),
        S("Monitoring", f"BP at {first_minute} minutes" if first_minute else "BP after dosing", _bp(mid)),
        S("Monitoring", "BP before discharge", _bp(before_discharge)),
        S("Monitoring", "Pulse oximetry done", yn(bool(readings)) if readings else None),
        S(
            "Events",
            "Sedation",
            yn(any(r.moaas < 5 for r in readings) or "sedation" in event_kinds) if readings else None,
        ),
        S(
            "Events",
            "Dissociation",
            yn(any(r.dissociation for r in readings) or "dissociation" in event_kinds) if readings else None,
        ),
        S("Events", "Respiratory depression", yn("respiratory_depression" in event_kinds) if discharge else None),
        S("Events", "Serious adverse events", ("; ".join(serious) or "None") if discharge else None),
    ]
    treatment_date = session.local_start().date()
    return RemsRecord(
        session=session,
        fields=fields,
        submission=_one(session, "rems_submission"),
        treatment_date=treatment_date,
        days_left=rules.rems_days_left(treatment_date=treatment_date, today=today, t=t),
    )


def rems_sessions():
    """Sessions with everything a REMS record shows (four queries for any number of them)."""
    return (
        session_queryset()
        .select_related("checkin__checked_in_by", "observation__discharge__discharged_by", "rems_submission")
        .prefetch_related("adverse_events")
    )


def rems_session(session_pk: int) -> Session:
    return rems_sessions().get(pk=session_pk)


def first_discharge_starts(patient_ids) -> dict[int, dt.datetime]:
    """Each patient's earliest discharged session start: a session is the patient's first
    treatment when no discharged session started before it."""
    rows = (
        Session.objects.filter(patient_id__in=set(patient_ids), status=SessionStatus.DISCHARGED)
        .values("patient_id")
        .annotate(first=Min("start"))
        .values_list("patient_id", "first")
    )
    return dict(rows)


def is_first_treatment(session: Session, firsts: dict[int, dt.datetime]) -> bool:
    """No discharged session of the patient started before ``session`` (``firsts``: from
    ``first_discharge_starts``)."""
    first = firsts.get(session.patient_id)
    return first is None or first >= session.start


def rems_records(sessions, *, today_for, t: rules.Thresholds | None = None) -> list[RemsRecord]:
    """REMS records of ``sessions`` (from ``rems_sessions()``) in two queries more, whatever
    their number: the thresholds and each patient's first discharged session."""
    sessions = list(sessions)
    if not sessions:
        return []
    t = t or current_thresholds()
    firsts = first_discharge_starts(s.patient_id for s in sessions)
    return [
        rems_record(
            s,
            today=today_for(s),
            t=t,
            first_treatment=is_first_treatment(s, firsts),
        )
        for s in sessions
    ]


def rems_worklist(*, today_for, limit: int = 200) -> list[RemsRecord]:
    """Esketamine sessions discharged and either incomplete or not yet submitted."""
    sessions = (
        rems_sessions()
        .filter(status=SessionStatus.DISCHARGED, rems_submission__isnull=True)
        .filter(Q(course__isnull=True) | Q(course__protocol__drug=Drug.ESKETAMINE))
        .order_by("start")[:limit]
    )
    return rems_records(sessions, today_for=today_for)


# --- REMS completeness from plain rows (the compliance report's counts) ------------------
