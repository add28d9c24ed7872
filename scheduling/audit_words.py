"""The audit report's words for the schedule's rows: bookings, moves, cancellations, no-shows,
rides home, courses started, stopped, re-planned and reviewed (``clinic.audit_words``).
Registered by ``registrations.register()``."""

from clinic.audit_words import (
    EMPTY,
    Row,
    change_words,
    clock,
    day,
    describer_register,
    field_of,
    moment,
    moment_was,
    value_text,
)

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _status(row: Row, object_type: str = "session") -> str:
    old, new = row.old("status"), row.new("status")
    field = field_of(object_type, "status")
    if new is None:
        return ""
    text = value_text(field, new)
    return f"{text} (was {value_text(field, old).lower()})" if old else text


def _booked(row: Row) -> list[str]:
    if row.action != "create" or not row.changes:
        return []
    words = f"Booked {moment(row.new('start'))} in {row.new('chair') or EMPTY}"
    details = []
    if row.new("sequence"):
        details.append(f"session {row.new('sequence')}")
    if row.new("phase_name"):
        details.append(row.new("phase_name"))
    if row.new("planned_dose_mg"):
        details.append(f"{row.new('planned_dose_mg')} mg planned")
    return [words + (f" ({', '.join(details)})" if details else "")]


def _move(row: Row) -> list[str]:
    phrases = []
    if "chair" in row.changes:
        phrases.append(f"Moved to {row.new('chair')} (was {row.old('chair')})")
    if "start" in row.changes:
        phrases.append(f"Start {moment_was(row.new('start'), row.old('start'))}")
    if not phrases:
        phrases.append("Moved" + (f" to chair #{row.summary['chair']}" if row.summary.get("chair") else ""))
    if row.summary.get("following"):
        phrases.append("with the course's later sessions")
    return phrases


def _cancel(row: Row) -> list[str]:
    phrases = [f"Cancelled (was {value_text(field_of('session', 'status'), row.old('status')).lower()})"]
    if row.old("status") is None:
        phrases = ["Cancelled"]
    if row.new("cancel_reason"):
        phrases.append(f"Reason: {row.new('cancel_reason')}")
    return phrases


def _no_show(row: Row) -> list[str]:
    old = row.old("status")
    return ["Marked no-show" + (f" (was {value_text(field_of('session', 'status'), old).lower()})" if old else "")]


def _ride(row: Row) -> list[str]:
    if "changes" not in row.summary:
        return ["Ride home recorded"]
    if not row.changes:
        return ["Ride home saved, nothing changed"]
    ride = _as_ride(row)
    return ["Ride home: " + "; ".join(change_words(ride, name) for name in ride.changed())]


def _as_ride(row: Row) -> Row:
    return Row(row.action, "transportarrangement", row.object_id, row.summary)


def _patient_confirmed(row: Row) -> list[str]:
    phrases = ["The patient confirmed they are coming, through the reminder link"]
    if row.changes:
        phrases.append("Ride home: " + "; ".join(change_words(row, name) for name in row.changed()))
    return phrases


def _weekdays(days) -> str:
    return ", ".join(WEEKDAYS[d] for d in days if isinstance(d, int) and 0 <= d < 7) or EMPTY


def _course_started(row: Row) -> list[str]:
    if row.action != "create" or not row.changes:
        return []
    phrases = [
        f"Course started: {row.new('protocol')} at {row.new('site')}, from {day(row.new('start_date'))}, "
        f"{_weekdays(row.new('weekdays') or [])} at {clock(row.new('start_time'))}"
        + (f", {row.new('preferred_chair')} preferred" if row.new("preferred_chair") else "")
    ]
    booked = row.summary.get("booked") or []
    count = row.summary.get("sessions", len(booked))
    if booked:
        phrases.append(
            f"{count} sessions booked, {moment(booked[0]['start'])} ({booked[0]['chair']})"
            + (f" to {moment(booked[-1]['start'])}" if len(booked) > 1 else "")
        )
    return phrases


def _course_stopped(row: Row) -> list[str]:
    status = _status(row, "course")
    phrases = [f"Course stopped{f': {status}' if status else ''}"]
    if row.summary.get("reason"):
        phrases.append(f"Reason: {row.summary['reason']}")
    cancelled = row.summary.get("cancelled") or []
    phrases.append(f"{len(cancelled)} sessions still to come cancelled")
    return phrases


def _course_replanned(row: Row) -> list[str]:
    booked = row.summary.get("booked")
    if not isinstance(booked, dict):
        return []
    missed = row.summary.get("missed_start")
    phrases = [
        f"Missed session{f' of {moment(missed)}' if missed else ''} made up on {moment(booked.get('start'))} "
        f"in {booked.get('chair', EMPTY)}"
    ]
    moved = row.summary.get("moved") or {}
    for changes in moved.values():
        moved_row = Row(row.action, "session", "", {"changes": changes})
        phrases.append("Later session: " + ", ".join(_move(moved_row)))
    return phrases


def _course_reviewed(row: Row) -> list[str]:
    field = field_of("coursereview", "decision")
    decision = value_text(field, row.summary.get("decision"))
    phrases = [f"Prescriber's review of {row.summary.get('phase') or 'the phase'}: {decision}"]
    if row.new("note"):
        phrases.append(f"Note: {row.new('note')}")
    booked, cancelled = row.summary.get("booked") or [], row.summary.get("cancelled") or []
    if booked:
        first = row.summary.get("first_booked")
        phrases.append(f"{len(booked)} sessions booked" + (f" from {moment(first)}" if first else ""))
    if cancelled:
        phrases.append(f"{len(cancelled)} sessions cancelled")
    if "review_phase_order" in row.changes:
        order = row.new("review_phase_order")
        phrases.append(f"Next review after phase {order}" if order is not None else "No further review planned")
    return phrases


def register() -> None:
    describer_register("session", _booked)
    describer_register("session", _move, act="move")
    describer_register("session", _cancel, act="cancel")
    describer_register("session", _no_show, act="no_show")
    describer_register("session", _ride, act="transport")
    describer_register("transportarrangement", _patient_confirmed)
    describer_register("course", _course_started)
    describer_register("course", _course_stopped, act="stop")
    describer_register("course", _course_replanned, act="replan")
    describer_register("course", _course_reviewed, act="review")
