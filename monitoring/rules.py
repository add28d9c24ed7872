"""Clinical rules of the session day as pure functions: no database, no clock.

Every number comes from a ``Thresholds`` value (built from the administrator-editable
``ClinicalThresholds`` row); the defaults below are the shipped defaults from the Spravato
prescribing information, NEWS2 score-3 bands and the ACC/AHA blood-pressure categories."""

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from clinic.formats import when

# --- Thresholds -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Thresholds:
    predose_systolic_max: int = 140  # dosing blocked when systolic is above this ...
    predose_diastolic_max: int = 90  # ... or diastolic is above this
    systolic_high: int = 180  # flagged when systolic >= this
    diastolic_high: int = 110  # flagged when diastolic >= this
    spo2_low: int = 93  # flagged (warning) when SpO2 <= this
    spo2_critical: int = 91  # flagged (critical) when SpO2 <= this
    respiratory_rate_low: int = 8  # flagged when RR <= this
    respiratory_rate_high: int = 25  # flagged when RR >= this
    heart_rate_low: int = 40  # flagged when HR <= this
    heart_rate_high: int = 131  # flagged when HR >= this
    moaas_low: int = 2  # flagged when MOAA/S <= this
    checkpoint_grace_minutes: int = 10
    observation_minimum_minutes: int = 120
    device_mg: int = 28
    device_rest_minutes: int = 5
    default_checkpoint_minutes: tuple[int, ...] = (40,)
    rems_window_days: int = 7
    rems_warning_day: int = 5
    late_entry_window_minutes: int = 15  # an earlier time than now may be typed this far back
    checkin_window_minutes: int = 120  # check-in opens this long before the session starts


DEFAULTS = Thresholds()

# The clocks of a tablet and the server may differ by this much: a time typed this far ahead of
# the server's clock is accepted (as now), and only a time earlier than this is a late entry.
CLOCK_SKEW = dt.timedelta(minutes=2)

# Values outside these limits cannot be a real measurement: they are refused, not flagged.
PHYSIOLOGICAL_LIMITS = {
    "systolic": (40, 300),
    "diastolic": (20, 200),
    "heart_rate": (20, 250),
    "spo2": (50, 100),
    "respiratory_rate": (2, 60),
    "moaas": (0, 5),
    "cadss": (0, 92),
}
# English, translated where a message names them.
FIELD_LABELS = {
    "systolic": gettext_noop("Systolic BP"),
    "diastolic": gettext_noop("Diastolic BP"),
    "heart_rate": gettext_noop("Heart rate"),
    "spo2": gettext_noop("SpO2"),
    "respiratory_rate": gettext_noop("Respiratory rate"),
    "moaas": gettext_noop("MOAA/S"),
    "cadss": gettext_noop("CADSS total"),
}


def physiological_errors(values: Mapping[str, int | None]) -> dict[str, str]:
    """Field -> message for values no patient can have (typing errors)."""
    errors = {}
    for field, (low, high) in PHYSIOLOGICAL_LIMITS.items():
        value = values.get(field)
        if value is not None and not low <= value <= high:
            errors[field] = _("%(field)s must be between %(low)s and %(high)s.") % {
                "field": _(FIELD_LABELS[field]),
                "low": low,
                "high": high,
            }
    systolic, diastolic = values.get("systolic"), values.get("diastolic")
    if systolic is not None and diastolic is not None and "diastolic" not in errors and diastolic >= systolic:
        errors["diastolic"] = _("Diastolic BP must be lower than systolic BP.")
    return errors


# --- Flags ----------------------------------------------------------------------------

WARNING = "warning"
CRITICAL = "critical"


@dataclasses.dataclass(frozen=True)
class Flag:
    code: str
    label: str  # English, as a reading stores it; pages translate it where they show it
    severity: str

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def reading_flags(values: Mapping[str, int | None], t: Thresholds = DEFAULTS) -> list[Flag]:
    """Flags for a reading that is possible but outside the alert thresholds."""
    flags = []
    systolic, diastolic = values.get("systolic"), values.get("diastolic")
    if (systolic is not None and systolic >= t.systolic_high) or (
        diastolic is not None and diastolic >= t.diastolic_high
    ):
        flags.append(Flag("high_bp", gettext_noop("High BP"), CRITICAL))
    spo2 = values.get("spo2")
    if spo2 is not None and spo2 <= t.spo2_critical:
        flags.append(Flag("low_spo2", gettext_noop("Low SpO2"), CRITICAL))
    elif spo2 is not None and spo2 <= t.spo2_low:
        flags.append(Flag("low_spo2", gettext_noop("Low SpO2"), WARNING))
    rr = values.get("respiratory_rate")
    if rr is not None and rr <= t.respiratory_rate_low:
        flags.append(Flag("low_rr", gettext_noop("Low respiratory rate"), CRITICAL))
    elif rr is not None and rr >= t.respiratory_rate_high:
        flags.append(Flag("high_rr", gettext_noop("High respiratory rate"), CRITICAL))
    hr = values.get("heart_rate")
    if hr is not None and hr <= t.heart_rate_low:
        flags.append(Flag("low_hr", gettext_noop("Low heart rate"), CRITICAL))
    elif hr is not None and hr >= t.heart_rate_high:
        flags.append(Flag("high_hr", gettext_noop("High heart rate"), CRITICAL))
    moaas = values.get("moaas")
    if moaas is not None and moaas <= t.moaas_low:
        flags.append(Flag("deep_sedation", gettext_noop("Deep sedation (MOAA/S)"), CRITICAL))
    return flags


def worst_severity(flags: Iterable[Mapping]) -> str:
    severities = {f["severity"] for f in flags}
    if CRITICAL in severities:
        return CRITICAL
    return WARNING if WARNING in severities else ""


# --- Pre-dose gate --------------------------------------------------------------------


def bp_above_predose_limit(systolic: int, diastolic: int, t: Thresholds = DEFAULTS) -> bool:
    return systolic > t.predose_systolic_max or diastolic > t.predose_diastolic_max


def predose_blocks(
    *, checklist_missing: Iterable[str], systolic: int | None, diastolic: int | None, t: Thresholds = DEFAULTS
) -> list[str]:
    """Reasons the nurse may not dose yet. ``systolic``/``diastolic`` are None without a
    pre-dose reading. An empty list means dosing may start."""
    blocks = [_("Pre-dose checklist: %(item)s") % {"item": item} for item in checklist_missing]
    if systolic is None or diastolic is None:
        blocks.append(_("No pre-dose vitals recorded yet"))
    elif bp_above_predose_limit(systolic, diastolic, t):
        blocks.append(
            _(
                "BP %(systolic)s/%(diastolic)s is above %(systolic_max)s/%(diastolic_max)s: "
                "a prescriber must override with a written reason"
            )
            % {
                "systolic": systolic,
                "diastolic": diastolic,
                "systolic_max": t.predose_systolic_max,
                "diastolic_max": t.predose_diastolic_max,
            }
        )
    return blocks


# --- Clinical times -------------------------------------------------------------------


def wall_time_before(value: dt.time, *, now: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """The latest moment at or before ``now`` (plus the clock skew) that shows ``value`` on a
    clock in ``tz``: a nurse typing 23:55 just after midnight means yesterday evening."""
    local_now = (now + CLOCK_SKEW).astimezone(tz)
    candidate = dt.datetime.combine(local_now.date(), value, tzinfo=tz)
    if candidate > local_now:
        candidate = dt.datetime.combine(local_now.date() - dt.timedelta(days=1), value, tzinfo=tz)
    return candidate


@dataclasses.dataclass(frozen=True)
class TimeError:
    code: str
    message: str


def _hm(moment: dt.datetime, tz: dt.tzinfo | None) -> str:
    return when(moment, "time", tz)


def entered_time_error(
    entered: dt.datetime,
    *,
    now: dt.datetime,
    checked_in_at: dt.datetime | None,
    discharged_at: dt.datetime | None,
    window_minutes: int,
    not_before: Sequence[tuple[dt.datetime | None, str]] = (),
    tz: dt.tzinfo | None = None,
) -> TimeError | None:
    """Why a clinical time a nurse entered cannot be recorded, or None when it can.

    Clinical times are the server's clock: a time up to ``CLOCK_SKEW`` ahead of ``now`` counts as
    now; an earlier time only inside the late-entry window (``window_minutes``), never before the
    check-in, never after the discharge, and never before any of ``not_before`` (moment, what it
    is: "the first device"). A moment of None in ``not_before`` is left out."""
    if entered > now + CLOCK_SKEW:
        return TimeError("future", _("The time cannot be later than now (%(time)s).") % {"time": _hm(now, tz)})
    if discharged_at is not None and entered > discharged_at:
        return TimeError(
            "after_discharge", _("The patient was discharged at %(time)s.") % {"time": _hm(discharged_at, tz)}
        )
    earliest = now - dt.timedelta(minutes=window_minutes)
    if entered < earliest:
        return TimeError(
            "too_late",
            _(
                "A time more than %(minutes)s minutes ago cannot be entered (earliest %(time)s): "
                "leave the time empty for now, or add an addendum with the reason."
            )
            % {"minutes": window_minutes, "time": _hm(earliest, tz)},
        )
    if checked_in_at is not None and entered < checked_in_at:
        return TimeError(
            "before_check_in",
            _("The patient arrived at %(time)s: enter a later time.") % {"time": _hm(checked_in_at, tz)},
        )
    for moment, label in not_before:
        if moment is not None and entered < moment:
            return TimeError(
                "order", _("The time cannot be before %(what)s (%(time)s).") % {"what": label, "time": _hm(moment, tz)}
            )
    return None


def is_late_entry(entered: dt.datetime, *, now: dt.datetime) -> bool:
    """A time entered for an event earlier than now (beyond the clock skew): marked as late."""
    return entered < now - CLOCK_SKEW


def checkin_time_error(
    *, now: dt.datetime, session_start: dt.datetime, tz: dt.tzinfo, window_minutes: int
) -> TimeError | None:
    """Why a session cannot be checked in at ``now``: only on the session's local day, and from
    ``window_minutes`` before its start."""
    if now.astimezone(tz).date() != session_start.astimezone(tz).date():
        return TimeError(
            "other_day",
            _("This session is booked for %(day)s: check in on that day.") % {"day": when(session_start, "day", tz)},
        )
    opens = session_start - dt.timedelta(minutes=window_minutes)
    if now < opens:
        return TimeError("too_early", _("Check-in for this session opens at %(time)s.") % {"time": _hm(opens, tz)})
    return None


# --- Dose -----------------------------------------------------------------------------


def devices_for_dose(dose_mg: Decimal | int, t: Thresholds = DEFAULTS) -> int | None:
    """Number of nasal spray devices for an esketamine dose, or None when the dose is not a
    whole number of devices."""
    dose = Decimal(dose_mg)
    if dose <= 0 or dose % t.device_mg:
        return None
    return int(dose / t.device_mg)


def next_device_at(
    *,
    devices_planned: int | None,
    given_at: Sequence[dt.datetime],
    stopped_early: bool = False,
    t: Thresholds = DEFAULTS,
) -> dt.datetime | None:
    """When the next nasal spray device may be given: the rest period after the last one given.
    None when there is no next device (none given yet: the first starts the dose; every
    planned device given; or dosing stopped early)."""
    if stopped_early or not given_at or len(given_at) >= (devices_planned or 0):
        return None
    return given_at[-1] + dt.timedelta(minutes=t.device_rest_minutes)


def iv_total_mg(weight_kg: Decimal, mg_per_kg: Decimal) -> Decimal:
    return (Decimal(weight_kg) * Decimal(mg_per_kg)).quantize(Decimal("0.1"))


WEIGHT_LIMITS_KG = (20, 350)  # a weight outside these is a typing error


@dataclasses.dataclass(frozen=True)
class DosePlan:
    """What the session's protocol allows (``scheduling.Protocol``; None without a course)."""

    allowed_doses_mg: tuple[Decimal, ...] = ()
    first_dose_mg: Decimal | None = None
    mg_per_kg_min: Decimal | None = None
    mg_per_kg_max: Decimal | None = None


def _mg(value) -> str:
    return f"{Decimal(value).normalize():f}"


def _either(values: Sequence[str]) -> str:
    """ "56 or 84" ("56 or 84 or 112"): a choice among ``values`` in the clinic's language."""
    text = values[0]
    for value in values[1:]:
        text = _("%(first)s or %(second)s") % {"first": text, "second": value}
    return text


def dose_errors(
    *,
    esketamine: bool,
    dose_mg: Decimal | None,
    plan: DosePlan,
    first_of_course: bool,
    first_dose_overridden: bool,
    weight_kg: Decimal | None = None,
    mg_per_kg: Decimal | None = None,
    t: Thresholds = DEFAULTS,
) -> dict[str, tuple[str, str]]:
    """Field -> (code, message) for a dose the protocol does not allow. Esketamine: a whole
    number of devices, one of the protocol's doses, the first dose of a course the protocol's
    first dose unless a prescriber overrode it. IV ketamine: a weight and an mg/kg inside the
    protocol's range."""
    errors = {}
    if esketamine:
        if dose_mg is None or Decimal(dose_mg) <= 0:
            errors["dose_mg"] = ("zero", _("Enter the dose: a dose of 0 mg cannot be given."))
        elif plan.allowed_doses_mg and Decimal(dose_mg) not in {Decimal(d) for d in plan.allowed_doses_mg}:
            allowed = _either([_mg(d) for d in plan.allowed_doses_mg])
            errors["dose_mg"] = ("not_allowed", _("This protocol allows %(doses)s mg.") % {"doses": allowed})
        elif devices_for_dose(dose_mg, t) is None:
            errors["dose_mg"] = (
                "dose",
                _("An esketamine dose is a multiple of %(device_mg)s mg.") % {"device_mg": t.device_mg},
            )
        elif (
            first_of_course
            and plan.first_dose_mg is not None
            and Decimal(dose_mg) != Decimal(plan.first_dose_mg)
            and not first_dose_overridden
        ):
            errors["dose_mg"] = (
                "first_dose",
                _(
                    "The first dose of a course is %(dose)s mg: "
                    "another dose needs a prescriber's override with a reason."
                )
                % {"dose": _mg(plan.first_dose_mg)},
            )
        return errors
    low, high = WEIGHT_LIMITS_KG
    if weight_kg is None:
        errors["weight_kg"] = ("required", _("Enter the patient's weight: the dose is worked out from it."))
    elif not low <= weight_kg <= high:
        errors["weight_kg"] = (
            "weight",
            _("Weight must be between %(low)s and %(high)s kg.") % {"low": low, "high": high},
        )
    if mg_per_kg is None or mg_per_kg <= 0:
        errors["mg_per_kg"] = ("required", _("Enter the dose in mg/kg."))
    elif (plan.mg_per_kg_min is not None and mg_per_kg < plan.mg_per_kg_min) or (
        plan.mg_per_kg_max is not None and mg_per_kg > plan.mg_per_kg_max
    ):
        low_mg = _mg(plan.mg_per_kg_min) if plan.mg_per_kg_min is not None else "0"
        if plan.mg_per_kg_max is not None:
            message = _("This protocol's dose is %(low)s to %(high)s mg/kg.") % {
                "low": low_mg,
                "high": _mg(plan.mg_per_kg_max),
            }
        else:
            message = _("This protocol's dose is %(low)s to any mg/kg.") % {"low": low_mg}
        errors["mg_per_kg"] = ("not_allowed", message)
    return errors


@dataclasses.dataclass(frozen=True)
class Devices:
    """The nasal devices of an esketamine dose as recorded."""

    planned: int
    given: int
    too_close: bool = False  # two were recorded less than the rest period apart
    stopped_early: bool = False  # the nurse recorded why dosing stopped


def device_progress(
    *, planned: int, given_at: Sequence[dt.datetime], stopped_early: bool, t: Thresholds = DEFAULTS
) -> Devices:
    rest = dt.timedelta(minutes=t.device_rest_minutes)
    ordered = sorted(given_at)
    too_close = any(b - a < rest for a, b in zip(ordered, ordered[1:], strict=False))
    return Devices(planned=planned, given=len(ordered), too_close=too_close, stopped_early=stopped_early)


# --- Checkpoints ----------------------------------------------------------------------

PRE_DOSE = "pre_dose"
DISCHARGE = "discharge"
EXTRA = "extra"

DONE = "done"
UPCOMING = "upcoming"
DUE = "due"
OVERDUE = "overdue"


def checkpoint_key(minute: int) -> str:
    return f"m{minute}"


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    key: str
    label: str
    due_at: dt.datetime
    status: str = UPCOMING
    overdue_at: dt.datetime | None = None


def observation_checkpoint_minutes(protocol_minutes: Iterable | None, t: Thresholds = DEFAULTS) -> list[int]:
    """The minutes of the observation checkpoints: the protocol's own (``None`` without a
    course), else the clinic's default."""
    if protocol_minutes:
        return [int(m) for m in protocol_minutes]
    return list(t.default_checkpoint_minutes)


def checkpoint_schedule(
    *, started_at: dt.datetime, minutes: Iterable[int], t: Thresholds = DEFAULTS
) -> list[tuple[str, str, dt.datetime]]:
    """(key, label, due_at) for the observation checkpoints: one per protocol minute, then
    the before-discharge reading, due when the minimum observation ends."""
    rows = [
        (checkpoint_key(m), _("%(minutes)s-minute check") % {"minutes": m}, started_at + dt.timedelta(minutes=m))
        for m in sorted(set(minutes))
        if 0 < m < t.observation_minimum_minutes
    ]
    rows.append(
        (DISCHARGE, _("Before-discharge check"), started_at + dt.timedelta(minutes=t.observation_minimum_minutes))
    )
    return rows


def checkpoint_states(
    *,
    started_at: dt.datetime,
    minutes: Iterable[int],
    done_keys: Iterable[str],
    now: dt.datetime,
    t: Thresholds = DEFAULTS,
) -> list[Checkpoint]:
    """Each checkpoint with its status: done, upcoming, due (from its time) or overdue
    (after the grace period)."""
    done = set(done_keys)
    grace = dt.timedelta(minutes=t.checkpoint_grace_minutes)
    states = []
    for key, label, due_at in checkpoint_schedule(started_at=started_at, minutes=minutes, t=t):
        if key in done:
            status = DONE
        elif now >= due_at + grace:
            status = OVERDUE
        elif now >= due_at:
            status = DUE
        else:
            status = UPCOMING
        states.append(Checkpoint(key, label, due_at, status, due_at + grace))
    return states


def next_checkpoint(states: Iterable[Checkpoint]) -> Checkpoint | None:
    return next((c for c in states if c.status != DONE), None)


def overdue_checkpoints(states: Iterable[Checkpoint]) -> list[Checkpoint]:
    return [c for c in states if c.status == OVERDUE]


# --- Discharge gate -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DischargeGate:
    missing: tuple[str, ...]
    minimum_ends_at: dt.datetime | None

    @property
    def ok(self) -> bool:
        return not self.missing


READINESS_LABELS = {
    "alert": gettext_noop("alert"),
    "oriented": gettext_noop("oriented"),
    "steady": gettext_noop("steady on their feet"),
}


def discharge_gate(
    *,
    started_at: dt.datetime | None,
    now: dt.datetime,
    discharge_reading_flags: list | None,
    vitals_overridden: bool,
    readiness: Mapping[str, bool],
    pickup_name: str,
    tzinfo: dt.tzinfo,
    devices: Devices | None = None,
    t: Thresholds = DEFAULTS,
) -> DischargeGate:
    """What still stands between the patient and going home, in the nurse's words.

    ``discharge_reading_flags`` is None when no before-discharge reading exists, else the
    flags of the latest one (an empty list means within limits). ``devices``: the nasal devices
    of an esketamine dose (None for an infusion)."""
    if started_at is None:
        return DischargeGate((_("Dosing has not started: observation has not begun"),), None)
    missing = []
    ends_at = started_at + dt.timedelta(minutes=t.observation_minimum_minutes)
    if now < ends_at:
        missing.append(
            _("%(minutes)s minutes of observation end at %(time)s")
            % {"minutes": t.observation_minimum_minutes, "time": when(ends_at, "time", tzinfo)}
        )
    if devices is not None and devices.given < devices.planned and not devices.stopped_early:
        missing.append(
            _("Devices: %(given)s of %(planned)s recorded: record the next one, or record why dosing stopped early")
            % {"given": devices.given, "planned": devices.planned}
        )
    if devices is not None and devices.too_close:
        missing.append(
            _("Devices recorded less than %(minutes)s minutes apart: review the dose record")
            % {"minutes": t.device_rest_minutes}
        )
    if discharge_reading_flags is None:
        missing.append(_("No before-discharge vitals reading yet"))
    elif discharge_reading_flags and not vitals_overridden:
        labels = ", ".join(_(f["label"]) for f in discharge_reading_flags)
        missing.append(
            _("Before-discharge vitals out of range (%(flags)s): take a new reading or ask a prescriber to override")
            % {"flags": labels}
        )
    for key, label in READINESS_LABELS.items():
        if not readiness.get(key):
            missing.append(_("Readiness check: confirm the patient is %(state)s") % {"state": _(label)})
    if not pickup_name.strip():
        missing.append(_("Record who is taking the patient home"))
    return DischargeGate(tuple(missing), ends_at)


def minutes_between(start: dt.datetime | None, end: dt.datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return int((end - start).total_seconds() // 60)


# --- REMS monitoring record -----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RemsField:
    section: str  # the form's section, in English (translated where it is shown)
    label: str  # as the record shows it, in the clinic's language
    value: object
    required: bool = True
    addendum: object = None  # the addendum that supplied the value, if any
    # The field's English label: what an addendum names (stored) and what the checks read. The
    # label itself when not given.
    key: str = ""

    def __post_init__(self):
        if not self.key:
            object.__setattr__(self, "key", str(self.label))

    @property
    def missing(self) -> bool:
        return self.required and (self.value is None or self.value == "")


def rems_missing(fields: Iterable[RemsField]) -> list[str]:
    """The labels of the missing fields, as the record shows them."""
    return [f.label for f in fields if f.missing]


# The record's patient facts come from the patient's own record (corrected there); every other
# missing field can be supplied by an addendum.
REMS_PATIENT_SECTIONS = ("Patient", "Concomitant medicines")
READY_MINUTES_LABEL = "Minutes until the patient would have been ready to leave"
YES_NO_LABELS = ("Vital signs in range", "Pulse oximetry done", "Sedation", "Dissociation", "Respiratory depression")


def rems_addendable(fields: Iterable[RemsField]) -> list[str]:
    """The keys (English labels) of the missing fields an addendum may supply."""
    return [f.key for f in fields if f.missing and f.section not in REMS_PATIENT_SECTIONS]


def rems_addendable_choices(fields: Iterable[RemsField]) -> list[tuple[str, str]]:
    """(key, label as shown) of the missing fields an addendum may supply."""
    return [(f.key, f.label) for f in fields if f.missing and f.section not in REMS_PATIENT_SECTIONS]


def rems_addendum_error(label: str, value: str, *, total_minutes: int | None) -> tuple[str, str] | None:
    """(code, message) when ``value`` cannot be the value of the REMS field ``label`` (its key,
    the English label). A yes-or-no field takes Yes or No in English or in the clinic's language."""
    value = value.strip()
    if not value:
        return "required", _("Enter the value.")
    if label == READY_MINUTES_LABEL:
        if not value.isdigit():
            return "minutes", _("Enter whole minutes after the first device, e.g. 95.")
        if total_minutes is not None and int(value) > total_minutes:
            return "minutes", _("The patient was discharged after %(minutes)s minutes: enter at most that.") % {
                "minutes": total_minutes
            }
    elif label.startswith("BP "):
        parts = value.split("/")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            return "bp", _("Enter the blood pressure as systolic/diastolic, e.g. 132/84.")
        errors = physiological_errors({"systolic": int(parts[0]), "diastolic": int(parts[1])})
        if errors:
            return "bp", next(iter(errors.values()))
    elif label.startswith(YES_NO_LABELS) and value not in {"Yes", "No", _("Yes"), _("No")}:
        return "yes_no", _("Answer Yes or No.")
    return None


def rems_day(*, treatment_date: dt.date, today: dt.date) -> int:
    """Day of the REMS window: the treatment day is day 0."""
    return (today - treatment_date).days


def rems_days_left(*, treatment_date: dt.date, today: dt.date, t: Thresholds = DEFAULTS) -> int:
    return t.rems_window_days - rems_day(treatment_date=treatment_date, today=today)


def rems_needs_warning(*, treatment_date: dt.date, today: dt.date, t: Thresholds = DEFAULTS) -> bool:
    return rems_day(treatment_date=treatment_date, today=today) >= t.rems_warning_day


def yes_no(value: bool | None) -> str | None:
    if value is None:
        return None
    return _("Yes") if value else _("No")
