"""A session's day, decided in one place.

``SessionDay`` takes one session read by ``day_sessions()`` (or ``rems_sessions()``) and says
what its day allows: the effective readings after corrections, whether dosing may start or
what blocks it, the checkpoints and the next one, the discharge gate, the minutes since the
dose, the ride home, the next nasal device and the REMS monitoring record. The clinical rules
themselves are the pure functions of ``monitoring.rules``; this module only feeds them what
was stored. The observation board, the session-day page, the staff alerts, the services'
own checks and the compliance report all read a session's day from here."""

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable
from decimal import Decimal
from functools import cached_property

from django.db.models import Min, Prefetch, QuerySet
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from clinic.formats import when
from clinic.rules import CONCOMITANT_MEDICINE_FIELDS
from scheduling.models import Drug, Session, SessionStatus, TransportArrangement

from . import rules, rules_outcomes
from .models import (
    Addendum,
    CheckIn,
    DeviceAdministration,
    Discharge,
    DoseRecord,
    Observation,
    PrescriberOverride,
    ReadingKind,
    VitalsReading,
    current_thresholds,
)
from .models_outcomes import safety_review_pending

PRE_DOSE_STATUSES = (SessionStatus.BOOKED, SessionStatus.CHECKED_IN)
# The steps of the session day, in order (the session page shows the current one first).
DAY_STEPS = ("check_in", "pre_dose", "dose", "observation", "discharge")
# The discharge gate as the board and the session page show it: what the stored record still
# lacks. Readiness and the person taking the patient home are confirmed in the discharge form.
_STORED_READINESS = dict.fromkeys(rules.READINESS_LABELS, True)
_STORED_PICKUP = "-"


# --- The read -------------------------------------------------------------------------


# PostgreSQL plans a join of every table a day reads (ten) in about 3 ms, five times as long as
# it takes to run it; the session with its chair, site, patient, course and protocol is planned
# in 0.4 ms, and the one-to-one records then come in small reads by session id (measured on the
# benchmark's board of 42 sessions: planning 2.9-3.1 ms against 0.4 ms, each small read well
# under 0.5 ms with its round trip).
_SESSION_JOINS = ("chair__site", "patient", "course__protocol")


def _day_reads(
    *, checkins: QuerySet | None = None, observations: QuerySet | None = None, transports: QuerySet | None = None
) -> list:
    readings = Prefetch(
        "readings",
        queryset=VitalsReading.objects.filter(superseded_by__isnull=True).order_by("taken_at", "pk"),
        to_attr="effective_readings",
    )
    overrides = Prefetch(
        "overrides", queryset=PrescriberOverride.objects.order_by("created_at", "pk"), to_attr="override_list"
    )
    return [
        Prefetch("transport", transports if transports is not None else TransportArrangement.objects.all()),
        Prefetch("checkin", checkins if checkins is not None else CheckIn.objects.all()),
        Prefetch(
            "observation", observations if observations is not None else Observation.objects.select_related("discharge")
        ),
        readings,
        overrides,
    ]


def day_sessions() -> QuerySet[Session]:
    """Sessions with everything their day needs, in seven queries for any number of them: the
    sessions with their chair, site, patient, course and protocol; their ride, check-in, dose
    and observation (with its discharge); the effective readings (oldest first, corrected ones
    left out) and the prescriber overrides (oldest first)."""
    return (
        Session.objects.select_related(*_SESSION_JOINS)
        .prefetch_related(*_day_reads(), "dose")
        .annotate(safety_review_pending=safety_review_pending())
    )


# What the board shows and decides on: building every column of ten tables' rows for each
# session took most of the board's time (see board_sessions).
_BOARD_COLUMNS = (
    "status",
    "start",
    "planned_end",
    "chair__name",
    "patient__first_name",
    "patient__last_name",
    "course__protocol__drug",
    "course__protocol__checkpoint_minutes",
    # The one-to-one records, joined into the sessions' read (see board_sessions).
    "transport__session_id",
    "transport__status",
    "checkin__session_id",
    *(f"checkin__{name}" for name in CheckIn.CHECKLIST),
    "observation__session_id",
    "observation__started_at",
    "observation__discharge__observation_id",
    "observation__discharge__discharged_at",
    "dose__session_id",
    "dose__drug",
    "dose__devices_planned",
    "dose__stopped_cause",
)


def board_sessions() -> QuerySet[Session]:
    """``day_sessions()`` with only the columns the observation board uses (of a site's
    sessions: the site's time zone is given to their days), in four queries: the sessions
    joined with their chair, patient, protocol and one-to-one records (ride, check-in,
    observation with its discharge, dose), then the readings, the overrides and the dose's
    devices (as a list, ``SessionDay.devices``).

    Measured on the benchmark's board (42 sessions, min and median of 60 reads and renders of
    the rows, CPU time): the one-to-ones in four reads by session id and the devices through
    their related manager (a query set built per dose), 19.3 / 30.2 ms; joined, with the
    devices as a list, 15.0 / 22.4 ms. Only the board's columns: 12-14 ms instead of 28-32 ms
    for the read and the days (an earlier measurement)."""
    return (
        Session.objects.select_related(
            "chair", "patient", "course__protocol", "transport", "checkin", "observation__discharge", "dose"
        )
        .only(*_BOARD_COLUMNS)
        .annotate(safety_review_pending=safety_review_pending())
        .prefetch_related(
            Prefetch(
                "readings",
                queryset=VitalsReading.objects.filter(superseded_by__isnull=True).order_by("taken_at", "pk"),
                to_attr="effective_readings",
            ),
            Prefetch(
                "overrides", queryset=PrescriberOverride.objects.order_by("created_at", "pk"), to_attr="override_list"
            ),
            # A list per dose: Django builds no query set per dose for it (see SessionDay.devices).
            Prefetch(
                "dose__devices",
                DeviceAdministration.objects.only("dose_id", "number", "administered_at"),
                to_attr="device_list",
            ),
        )
    )


def rems_sessions() -> QuerySet[Session]:
    """``day_sessions()`` with what the REMS record also shows: who checked the patient in and
    discharged them, the REMS submission and the adverse events (two queries more, whatever the
    number of sessions)."""
    return (
        Session.objects.select_related(*_SESSION_JOINS)
        .annotate(safety_review_pending=safety_review_pending())
        .prefetch_related(
            *_day_reads(
                checkins=CheckIn.objects.select_related("checked_in_by"),
                observations=Observation.objects.select_related("discharge__discharged_by"),
            ),
            "dose",
            # The record lists the devices whose time was entered afterwards (a few, if any).
            Prefetch("dose__devices", DeviceAdministration.objects.filter(late_entry=True), to_attr="late_devices"),
            "rems_submission",
            "adverse_events",
            Prefetch("addenda", Addendum.objects.select_related("recorded_by")),
        )
    )


def load_day(
    session_pk: int,
    *,
    t: rules.Thresholds | None = None,
    now: dt.datetime | None = None,
    sessions: QuerySet[Session] | None = None,
) -> "SessionDay":
    """The day of one session as stored now, read from ``sessions`` (``day_sessions()`` unless
    given); ``Session.DoesNotExist`` when there is none."""
    session = (day_sessions() if sessions is None else sessions).get(pk=session_pk)
    return SessionDay(session, t=t or current_thresholds(), now=now or timezone.now())


def _one(obj, name):
    """A reverse one-to-one loaded by select_related, or None when there is no row."""
    try:
        return getattr(obj, name)
    except obj.__class__._meta.get_field(name).related_model.DoesNotExist:
        return None


def latest_of_kind(readings: Iterable[VitalsReading], kind: str) -> VitalsReading | None:
    matching = [r for r in readings if r.kind == kind]
    return matching[-1] if matching else None


def session_drug(session: Session) -> str:
    """The drug of the session's protocol (esketamine for a session booked without a course)."""
    if session.course_id and session.course.protocol_id:
        return session.course.protocol.drug
    return Drug.ESKETAMINE


def checkpoint_minutes(session: Session, t: rules.Thresholds) -> list[int]:
    protocol_minutes = session.course.protocol.checkpoint_minutes if session.course_id else None
    return rules.observation_checkpoint_minutes(protocol_minutes, t)


def checkpoint_choices(session: Session, t: rules.Thresholds) -> list[tuple[str, str]]:
    """(key, label) of the readings a nurse may take now: the pre-dose reading before dosing,
    then the observation checkpoints and an extra reading. Needs the session's observation
    (and course protocol) loaded with it."""
    if session.status == SessionStatus.CHECKED_IN:
        return [(rules.PRE_DOSE, _("Pre-dose"))]
    observation = _one(session, "observation")
    schedule = (
        rules.checkpoint_schedule(started_at=observation.started_at, minutes=checkpoint_minutes(session, t), t=t)
        if observation
        else []
    )
    return [(key, label) for key, label, _due in schedule] + [(rules.EXTRA, _("Extra reading"))]


# --- The day --------------------------------------------------------------------------


@dataclasses.dataclass(eq=False)
class SessionDay:
    """One session's day at ``now`` under the thresholds ``t``. Every answer is worked out
    from the session as loaded (no query), once, when first asked."""

    session: Session
    t: rules.Thresholds
    now: dt.datetime
    tz: dt.tzinfo | None = None  # the site's time zone; read from the session's site when not given

    def __post_init__(self):
        self.readings: list[VitalsReading] = self.session.effective_readings
        self.overrides: list[PrescriberOverride] = self.session.override_list
        if self.tz is None:
            self.tz = self.session.chair.site.tzinfo

    # What was given and read

    @cached_property
    def checkin(self) -> CheckIn | None:
        return _one(self.session, "checkin")

    @cached_property
    def dose(self) -> DoseRecord | None:
        return _one(self.session, "dose")

    @cached_property
    def observation(self) -> Observation | None:
        return _one(self.session, "observation")

    @cached_property
    def discharge(self) -> Discharge | None:
        return _one(self.observation, "discharge") if self.observation else None

    @cached_property
    def transport(self) -> TransportArrangement | None:
        return _one(self.session, "transport")

    @property
    def status(self) -> str:
        return self.session.status

    @cached_property
    def drug(self) -> str:
        return session_drug(self.session)

    @property
    def is_esketamine(self) -> bool:
        return self.drug == Drug.ESKETAMINE

    @property
    def latest_reading(self) -> VitalsReading | None:
        return self.readings[-1] if self.readings else None

    @cached_property
    def predose_reading(self) -> VitalsReading | None:
        return latest_of_kind(self.readings, ReadingKind.PRE_DOSE)

    @cached_property
    def discharge_reading(self) -> VitalsReading | None:
        return latest_of_kind(self.readings, ReadingKind.DISCHARGE)

    @property
    def transport_confirmed(self) -> bool:
        return self.transport is not None and self.transport.is_confirmed

    @property
    def ride_unconfirmed(self) -> bool:
        return not self.transport_confirmed

    # Dosing

    @cached_property
    def _predose_override_in_force(self) -> PrescriberOverride | None:
        """The newest pre-dose override given for the current pre-dose reading: a newer
        reading needs a new decision."""
        reading_pk = self.predose_reading.pk if self.predose_reading else None
        return next(
            (
                o
                for o in reversed(self.overrides)
                if o.kind == PrescriberOverride.Kind.PRE_DOSE and o.reading_id == reading_pk
            ),
            None,
        )

    @cached_property
    def predose_override(self) -> PrescriberOverride | None:
        """The override shown on the page: the one in force before dosing, the first one given
        once dosing has started."""
        if self.status in PRE_DOSE_STATUSES:
            return self._predose_override_in_force
        return next((o for o in self.overrides if o.kind == PrescriberOverride.Kind.PRE_DOSE), None)

    @cached_property
    def overridable_blocks(self) -> list[str]:
        """The pre-dose blocks still in force that a prescriber's pre-dose override can lift
        (the checklist, the blood pressure, the ride; a pre-dose reading is always needed).
        Empty once dosing has started."""
        if self.status not in PRE_DOSE_STATUSES:
            return []
        predose = self.predose_reading
        blocks = rules.predose_blocks(
            checklist_missing=self.checkin.checklist_missing() if self.checkin else [_("patient not checked in")],
            systolic=predose.systolic if predose else None,
            diastolic=predose.diastolic if predose else None,
            t=self.t,
        )
        override = self._predose_override_in_force
        return [b for b in blocks if override is None or b not in override.blocks]

    @cached_property
    def safety_blocks(self) -> list[str]:
        """PHQ-9 item 9 answered above 0 and not yet acknowledged by a prescriber with a note:
        only that acknowledgement lifts it, never a pre-dose override."""
        if self.status not in PRE_DOSE_STATUSES:
            return []
        return rules_outcomes.safety_blocks(review_pending=self.session.safety_review_pending)

    @cached_property
    def dosing_blocks(self) -> list[str]:
        """Why the nurse may not dose yet: the safety item's wait, then the pre-dose blocks
        left after any prescriber override (which lifts every block it saw). Empty once dosing
        has started."""
        return self.safety_blocks + self.overridable_blocks

    @property
    def dosing_blocked(self) -> bool:
        """A checked-in patient waiting for a dose who may not be dosed yet."""
        return self.status == SessionStatus.CHECKED_IN and bool(self.dosing_blocks)

    @cached_property
    def devices(self) -> list:
        """The dose's nasal devices (read as a list by ``board_sessions()``, else through the dose)."""
        if self.dose is None:
            return []
        listed = getattr(self.dose, "device_list", None)
        return listed if listed is not None else list(self.dose.devices.all())

    @cached_property
    def dose_plan(self) -> rules.DosePlan:
        """The doses the session's protocol allows (none set without a course)."""
        if not self.session.course_id:
            return rules.DosePlan()
        protocol = self.session.course.protocol
        return rules.DosePlan(
            allowed_doses_mg=tuple(Decimal(str(d)) for d in protocol.allowed_doses_mg or ()),
            first_dose_mg=protocol.first_dose_mg,
            mg_per_kg_min=protocol.mg_per_kg_min,
            mg_per_kg_max=protocol.mg_per_kg_max,
        )

    @cached_property
    def first_of_course(self) -> bool:
        """No other session of the course has been dosed (one query, asked before dosing only)."""
        if not self.session.course_id:
            return False
        return (
            not DoseRecord.objects.filter(session__course_id=self.session.course_id)
            .exclude(session_id=self.session.pk)
            .exists()
        )

    @property
    def first_dose_rule_applies(self) -> bool:
        """The dose must be the protocol's first dose unless a prescriber overrides."""
        return self.is_esketamine and self.dose_plan.first_dose_mg is not None and self.first_of_course

    @cached_property
    def first_dose_override(self) -> PrescriberOverride | None:
        return next((o for o in self.overrides if o.kind == PrescriberOverride.Kind.FIRST_DOSE), None)

    @cached_property
    def device_progress(self) -> rules.Devices | None:
        """The nasal devices recorded against the planned ones (None: no esketamine dose)."""
        dose = self.dose
        if dose is None or not dose.is_esketamine:
            return None
        return rules.device_progress(
            planned=dose.devices_planned or 0,
            given_at=[d.administered_at for d in self.devices],
            stopped_early=bool(dose.stopped_cause),
            t=self.t,
        )

    @cached_property
    def next_device_at(self) -> dt.datetime | None:
        """When the next nasal device may be given (the countdown's instant), or None when none
        is left to give or dosing stopped early."""
        if not self.dose or not self.dose.is_esketamine:
            return None
        return rules.next_device_at(
            devices_planned=self.dose.devices_planned,
            given_at=[d.administered_at for d in self.devices],
            stopped_early=bool(self.dose.stopped_cause),
            t=self.t,
        )

    # Observation

    @property
    def in_observation(self) -> bool:
        return self.status == SessionStatus.IN_OBSERVATION and self.observation is not None

    @property
    def minutes_since_dose(self) -> int | None:
        return rules.minutes_between(self.observation.started_at if self.observation else None, self.now)

    @cached_property
    def checkpoint_minutes(self) -> list[int]:
        return checkpoint_minutes(self.session, self.t)

    @cached_property
    def checkpoints(self) -> list[rules.Checkpoint]:
        if self.observation is None:
            return []
        return rules.checkpoint_states(
            started_at=self.observation.started_at,
            minutes=self.checkpoint_minutes,
            done_keys={r.checkpoint_key for r in self.readings},
            now=self.now,
            t=self.t,
        )

    @property
    def next_checkpoint(self) -> rules.Checkpoint | None:
        return rules.next_checkpoint(self.checkpoints)

    @property
    def overdue(self) -> list[rules.Checkpoint]:
        return rules.overdue_checkpoints(self.checkpoints)

    @property
    def past_planned_end(self) -> bool:
        return self.now > self.session.planned_end

    def checkpoint_choices(self) -> list[tuple[str, str]]:
        return checkpoint_choices(self.session, self.t)

    # Discharge

    @cached_property
    def discharge_override(self) -> PrescriberOverride | None:
        """The prescriber's acceptance of the current before-discharge reading, if given."""
        reading = self.discharge_reading
        if reading is None:
            return None
        return next(
            (
                o
                for o in self.overrides
                if o.kind == PrescriberOverride.Kind.DISCHARGE_VITALS and o.reading_id == reading.pk
            ),
            None,
        )

    def discharge_gate(self, *, readiness: dict, pickup_name: str) -> rules.DischargeGate:
        """The discharge gate from what is stored, with the nurse's readiness check and the
        person taking the patient home as given."""
        reading = self.discharge_reading
        return rules.discharge_gate(
            started_at=self.observation.started_at if self.observation else None,
            now=self.now,
            discharge_reading_flags=reading.flags if reading else None,
            vitals_overridden=self.discharge_override is not None,
            readiness=readiness,
            pickup_name=pickup_name,
            tzinfo=self.tz,
            devices=self.device_progress,
            t=self.t,
        )

    @cached_property
    def board_gate(self) -> rules.DischargeGate | None:
        """What the stored record still lacks before discharge (patients in observation)."""
        if not self.in_observation:
            return None
        return self.discharge_gate(readiness=_STORED_READINESS, pickup_name=_STORED_PICKUP)

    # The page's guided flow

    @cached_property
    def current_step(self) -> str:
        """The step of the day the nurse works on now (one of ``DAY_STEPS``)."""
        if self.status == SessionStatus.DISCHARGED:
            return "discharge"
        if self.status == SessionStatus.IN_OBSERVATION:
            if self.board_gate is not None and self.board_gate.ok:
                return "discharge"
            return "dose" if self.next_device_at is not None else "observation"
        if self.status == SessionStatus.CHECKED_IN:
            return "dose" if self.predose_reading is not None and not self.dosing_blocks else "pre_dose"
        return "check_in"

    @cached_property
    def steps(self) -> dict[str, str]:
        """Each step's state: "done", "current", "underway" (the observation while another step is
        current) or "waiting" (a later step). A discharged session's steps are all done but the
        discharge, which stays current (its record and addenda)."""
        current = DAY_STEPS.index(self.current_step)
        states = {}
        for n, step in enumerate(DAY_STEPS):
            states[step] = "done" if n < current else "current" if n == current else "waiting"
        if self.in_observation and states["observation"] != "current":
            states["observation"] = "underway"
        return states

    # REMS

    def rems_record(self, *, today: dt.date, first_treatment: bool) -> "RemsRecord":
        """The REMS monitoring record assembled from what the nurses entered. Needs the
        session read by ``rems_sessions()``."""
        return RemsRecord(
            session=self.session,
            fields=_rems_fields(self, first_treatment=first_treatment),
            submission=_one(self.session, "rems_submission"),
            treatment_date=self.treatment_date,
            days_left=self.rems_days_left(today),
        )

    @property
    def treatment_date(self) -> dt.date:
        return self.session.local_start().date()

    def rems_days_left(self, today: dt.date) -> int:
        """Days left to submit the REMS monitoring record (negative once overdue)."""
        return rules.rems_days_left(treatment_date=self.treatment_date, today=today, t=self.t)

    def rems_needs_warning(self, today: dt.date) -> bool:
        return rules.rems_needs_warning(treatment_date=self.treatment_date, today=today, t=self.t)


def session_days(
    sessions: Iterable[Session], *, t: rules.Thresholds, now: dt.datetime, tz: dt.tzinfo | None = None
) -> list[SessionDay]:
    return [SessionDay(s, t=t, now=now, tz=tz) for s in sessions]


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

    def sections_by_key(self) -> list[tuple[str, list]]:
        """(section, fields) in the form's order, each section by its English name."""
        out: dict[str, list] = {}
        for f in self.fields:
            out.setdefault(f.section, []).append(f)
        return list(out.items())

    def sections(self) -> list[tuple[str, list]]:
        """(section, fields) in the form's order, each section's name in the clinic's language."""
        return [(_(section), fields) for section, fields in self.sections_by_key()]


def _bp(reading) -> str | None:
    return f"{reading.systolic}/{reading.diastolic}" if reading else None


def _name(user) -> str | None:
    return (user.get_full_name() or user.get_username()) if user else None


def late_entries(day: SessionDay) -> list[str]:
    """The clinical times of the day entered afterwards, with when they were entered ("Arrival at
    14:05 (entered 14:07)")."""
    tz = day.tz

    def line(text: str, moment, entered=None, **values) -> str:
        values["time"] = when(moment, "time", tz)
        if entered is not None:
            values["entered"] = when(entered, "time", tz)
        return text % values

    entries = []
    checkin, dose = day.checkin, day.dose
    if checkin and checkin.arrival_late_entry:
        entries.append(line(_("Arrival at %(time)s (entered %(entered)s)"), checkin.arrived_at, checkin.created_at))
    if dose and dose.infusion_start_late_entry:
        entries.append(
            line(_("Infusion start at %(time)s (entered %(entered)s)"), dose.infusion_start, dose.created_at)
        )
    if dose and dose.infusion_end_late_entry:
        entries.append(line(_("Infusion end at %(time)s"), dose.infusion_end))
    for device in getattr(dose, "late_devices", ()) if dose else ():
        entries.append(
            line(
                _("Device %(number)s at %(time)s (entered %(entered)s)"),
                device.administered_at,
                device.recorded_at,
                number=device.number,
            )
        )
    for reading in day.readings:
        if reading.late_entry:
            entries.append(
                line(
                    _("%(reading)s reading at %(time)s (entered %(entered)s)"),
                    reading.taken_at,
                    reading.recorded_at,
                    reading=reading.label,
                )
            )
    return entries


# The record's sections, in English (translated where they are shown; the PDF's titles follow
# them).
PATIENT = gettext_noop("Patient")
MEDICINES = gettext_noop("Concomitant medicines")
TREATMENT = gettext_noop("Treatment")
MONITORING = gettext_noop("Monitoring")
EVENTS = gettext_noop("Events")
RECORD = gettext_noop("Record")


def _field(section: str, label: str, value, *, key: str = "", required: bool = True) -> rules.RemsField:
    """A field of the record: ``label`` in English (its key), shown in the clinic's language;
    with ``key``, ``label`` is already the text to show."""
    if key:
        return rules.RemsField(section, label, value, required=required, key=key)
    return rules.RemsField(section, _(label), value, required=required, key=label)


def _rems_fields(day: SessionDay, *, first_treatment: bool) -> list[rules.RemsField]:
    session, t = day.session, day.t
    patient = session.patient
    checkin, dose, discharge = day.checkin, day.dose, day.discharge
    readings = day.readings
    events = list(session.adverse_events.all())
    predose, before_discharge = day.predose_reading, day.discharge_reading
    minutes = day.checkpoint_minutes
    first_minute = min(minutes) if minutes else None
    mid = next((r for r in readings if r.kind == ReadingKind.CHECKPOINT and r.checkpoint_minute == first_minute), None)
    started = day.observation.started_at if day.observation else None
    event_kinds = {e.kind for e in events}
    serious = [
        _("%(kind)s (%(severity)s)") % {"kind": e.get_kind_display(), "severity": e.get_severity_display().lower()}
        for e in events
        if e.serious
    ]
    clinician = discharge.discharged_by if discharge else (checkin.checked_in_by if checkin else None)
    dose_mg = dose.dose_mg if dose else None
    S = _field
    yn = rules.yes_no
    if first_minute:
        mid_bp = S(
            MONITORING,
            _("BP at %(minutes)s minutes") % {"minutes": first_minute},
            _bp(mid),
            key=f"BP at {first_minute} minutes",
        )
    else:
        mid_bp = S(MONITORING, gettext_noop("BP after dosing"), _bp(mid))
    enrolled = _("Yes (%(id)s)") % {"id": patient.rems_enrollment_id} if patient.is_rems_enrolled else None
    fields = [
        S(PATIENT, gettext_noop("Patient name"), patient.full_name),
        S(PATIENT, gettext_noop("Date of birth"), patient.date_of_birth),
        S(PATIENT, gettext_noop("Sex"), patient.get_sex_display()),
        S(PATIENT, gettext_noop("First treatment"), yn(first_treatment)),
        S(PATIENT, gettext_noop("Enrolled in REMS"), enrolled),
        *[
            S(
                MEDICINES,
                capfirst(str(patient._meta.get_field(name).verbose_name)),  # "MAOIs", not "Maois"
                yn(getattr(patient, name)),
                key=name,
            )
            for name in CONCOMITANT_MEDICINE_FIELDS
        ],
        S(TREATMENT, gettext_noop("Monitoring clinician"), _name(clinician)),
        S(TREATMENT, gettext_noop("Site"), session.chair.site.name),
        S(TREATMENT, gettext_noop("Treatment date"), day.treatment_date),
        S(
            TREATMENT,
            gettext_noop("Dose"),
            _("%(dose)s mg") % {"dose": f"{dose_mg.normalize():f}"} if dose_mg is not None else None,
        ),
        S(TREATMENT, gettext_noop("Lot number"), dose.lot_number if dose else None),
        S(
            MONITORING,
            gettext_noop("Total minutes from first device to end of monitoring"),
            rules.minutes_between(started, discharge.discharged_at if discharge else None),
        ),
        S(
            MONITORING,
            gettext_noop("Minutes until the patient would have been ready to leave"),
            rules.minutes_between(started, discharge.would_have_been_ready_at if discharge else None),
        ),
        S(
            MONITORING,
            gettext_noop("Vital signs in range before dosing"),
            yn(not rules.bp_above_predose_limit(predose.systolic, predose.diastolic, t) and not predose.flags)
            if predose
            else None,
        ),
        S(
            MONITORING,
            gettext_noop("Vital signs in range before discharge"),
            yn(not before_discharge.flags) if before_discharge else None,
        ),
        S(MONITORING, gettext_noop("BP before dosing"), _bp(predose)),
        mid_bp,
        S(MONITORING, gettext_noop("BP before discharge"), _bp(before_discharge)),
        S(MONITORING, gettext_noop("Pulse oximetry done"), yn(bool(readings)) if readings else None),
        S(
            EVENTS,
            gettext_noop("Sedation"),
            yn(any(r.moaas < 5 for r in readings) or "sedation" in event_kinds) if readings else None,
        ),
        S(
            EVENTS,
            gettext_noop("Dissociation"),
            yn(any(r.dissociation for r in readings) or "dissociation" in event_kinds) if readings else None,
        ),
        S(
            EVENTS,
            gettext_noop("Respiratory depression"),
            yn("respiratory_depression" in event_kinds) if discharge else None,
        ),
        S(EVENTS, gettext_noop("Serious adverse events"), ("; ".join(serious) or _("None")) if discharge else None),
        S(
            RECORD,
            gettext_noop("Times entered afterwards (late entries)"),
            "; ".join(late_entries(day)) or _("None"),
            required=False,
        ),
    ]
    return with_addenda(fields, session.addenda.all())


def with_addenda(fields: list[rules.RemsField], addenda: Iterable[Addendum]) -> list[rules.RemsField]:
    """Each missing field an addendum supplied, with the addendum's value (the latest one). An
    addendum names its field by the field's key (the English label)."""
    supplied = {a.field: a for a in addenda if a.field}
    addendable = set(rules.rems_addendable(fields))
    return [
        dataclasses.replace(f, value=supplied[f.key].value, addendum=supplied[f.key])
        if f.key in supplied and f.key in addendable
        else f
        for f in fields
    ]


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


def rems_records(
    sessions: Iterable[Session],
    *,
    today_for: Callable[[Session], dt.date],
    t: rules.Thresholds | None = None,
    now: dt.datetime | None = None,
) -> list[RemsRecord]:
    """REMS records of ``sessions`` (from ``rems_sessions()``) in two queries more, whatever
    their number: the thresholds (unless given) and each patient's first discharged session."""
    sessions = list(sessions)
    if not sessions:
        return []
    t = t or current_thresholds()
    now = now or timezone.now()
    firsts = first_discharge_starts(s.patient_id for s in sessions)
    return [
        SessionDay(s, t=t, now=now).rems_record(today=today_for(s), first_treatment=is_first_treatment(s, firsts))
        for s in sessions
    ]
