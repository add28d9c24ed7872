"""The audit report's words for the session day's rows: check-in, readings and their
corrections, overrides, the dose and each device, adverse events, the discharge, the REMS
record and addenda (``clinic.audit_words``). Registered by ``MonitoringConfig.ready()``."""

from clinic.audit_words import (
    EMPTY,
    Row,
    change_words,
    day,
    describer_register,
    field_label,
    field_name,
    late_words,
    moment,
    value_text,
)
from clinic.audit_words import field_of as _field

from .models import CheckIn


def _status(row: Row) -> str:
    """The session's status change a row of the day records ("Checked in (was booked)")."""
    old, new = row.old("status"), row.new("status")
    if not new or old == new:
        return ""
    field = _field("session", "status")
    return f"Session {value_text(field, new).lower()}" + (f" (was {value_text(field, old).lower()})" if old else "")


def _with_late(row: Row, phrases: list[str]) -> list[str]:
    return [*phrases, late_words(row)]


def _checkin(row: Row) -> list[str]:
    if "changes" not in row.summary:
        return []
    phrases = []
    if row.action == "create":
        phrases.append(f"Checked in, arrived {moment(row.new('arrived_at'))}")
        done = [field_name("checkin", n) for n in CheckIn.CHECKLIST if row.new(n) is True]
        missing = [field_name("checkin", n) for n in CheckIn.CHECKLIST if row.new(n) is False]
        if done:
            phrases.append("Checklist: " + "; ".join(done))
        if missing:
            phrases.append("Not yet: " + "; ".join(missing))
        if row.new("notes"):
            phrases.append(f"Notes: {row.new('notes')}")
    else:
        names = [n for n in row.changed() if n != "status" and not n.startswith("ride_")]
        if names:
            phrases.append("Check-in updated: " + "; ".join(change_words(row, n) for n in names))
        elif not row.changes:
            phrases.append("Check-in saved, nothing changed")
    ride = {n.removeprefix("ride_"): pair for n, pair in row.changes.items() if n.startswith("ride_")}
    if ride:
        ride_row = Row(row.action, "transportarrangement", "", {"changes": ride})
        phrases.append("Ride home: " + "; ".join(change_words(ride_row, n) for n in ride_row.changed()))
    return _with_late(row, [*phrases, _status(row)])


def _vitals(values: dict) -> str:
    """ "BP 150/90, HR 72, SpO2 98%, RR 14, MOAA/S 5" from {field: value}."""
    parts = []
    if values.get("systolic") is not None or values.get("diastolic") is not None:
        parts.append(f"BP {values.get('systolic', EMPTY)}/{values.get('diastolic', EMPTY)}")
    for name, label, unit in (
        ("heart_rate", "HR", ""),
        ("spo2", "SpO2", "%"),
        ("respiratory_rate", "RR", ""),
        ("moaas", "MOAA/S", ""),
        ("cadss", "CADSS", ""),
    ):
        if values.get(name) is not None:
            parts.append(f"{label} {values[name]}{unit}")
    if values.get("dissociation") is True:
        parts.append("dissociation")
    return ", ".join(parts)


def _kind(row: Row, kind, minute=None) -> str:
    if kind == "checkpoint" and minute:
        return f"{minute}-minute checkpoint reading"
    text = value_text(_field("vitalsreading", "kind"), kind)
    return text if text.lower().endswith("reading") else f"{text} reading"


def _reading(row: Row) -> list[str]:
    if not row.changes:
        return []
    if "corrects" in row.summary:
        return _correction(row)
    values = {name: row.new(name) for name in row.changes}
    what = _kind(row, row.new("kind"), row.new("checkpoint_minute"))
    phrases = [f"{what} at {moment(row.new('taken_at'))}: {_vitals(values)}"]
    if row.new("flags"):
        phrases.append("Flagged: " + ", ".join(row.new("flags")))
    if row.new("notes"):
        phrases.append(f"Notes: {row.new('notes')}")
    return _with_late(row, phrases)


def _correction(row: Row) -> list[str]:
    kind = row.summary.get("kind")
    what = _kind(row, kind).lower() if kind else "reading"
    changed = [
        f"{field_label('vitalsreading', n)} {row.new(n)} (was {row.old(n) if row.old(n) is not None else EMPTY})"
        for n in row.changed()
        if n not in ("correction_reason", "notes")
    ]
    phrases = [f"Corrected the {what} #{row.summary['corrects']}: " + ("; ".join(changed) or "same values")]
    if row.new("correction_reason"):
        phrases.append(f"Reason: {row.new('correction_reason')}")
    if "notes" in row.changes:
        phrases.append(change_words(row, "notes"))
    return phrases


def _override(row: Row) -> list[str]:
    if not row.changes:
        return []
    phrases = [f"Prescriber override of the {row.text('kind', row.new('kind')).lower()}"]
    if row.new("blocks"):
        phrases.append("It lifted: " + "; ".join(row.new("blocks")))
    if row.new("reason"):
        phrases.append(f"Reason: {row.new('reason')}")
    return phrases


def _mg(value) -> str:
    return f"{value} mg" if value not in (None, "") else EMPTY


def _dose(row: Row) -> list[str]:
    if row.action == "create" and row.changes:
        if row.new("devices_planned"):
            phrases = [
                f"Dose recorded: {row.new('devices_planned')} devices ({_mg(row.new('dose_mg'))}), "
                f"lot {row.new('lot_number') or EMPTY}, "
                f"first device {moment(row.new('first_device_at'), 'time_seconds')}"
            ]
        else:
            phrases = [
                f"Dose recorded: {row.text('drug', row.new('drug'))} {_mg(row.new('dose_mg'))} "
                f"({row.new('weight_kg') or EMPTY} kg × {row.new('mg_per_kg') or EMPTY} mg/kg), "
                f"infusion from {moment(row.new('infusion_start'), 'time')}"
            ]
        return _with_late(row, [*phrases, _status(row)])
    if "stopped_cause" in row.changes:
        given, planned = row.summary.get("devices_given"), row.summary.get("devices_planned")
        after = f" after {given} of {planned} devices" if given is not None and planned else ""
        phrases = [f"Dosing stopped early{after} because of {row.text('stopped_cause', row.new('stopped_cause'))}"]
        if row.new("stopped_event"):
            phrases.append(f"Adverse event #{row.new('stopped_event')}")
        if row.new("stopped_note"):
            phrases.append(f"Note: {row.new('stopped_note')}")
        return phrases
    if "infusion_end" in row.changes:
        return _with_late(row, [f"Infusion ended {moment(row.new('infusion_end'), 'time')}"])
    return []


def _device(row: Row) -> list[str]:
    if not row.changes:
        return []
    planned = row.summary.get("devices_planned")
    of = f" of {planned}" if planned else ""
    return _with_late(
        row, [f"Device {row.new('number')}{of} given at {moment(row.new('administered_at'), 'time_seconds')}"]
    )


def _adverse_event(row: Row) -> list[str]:
    if not row.changes:
        return []
    serious = ", serious" if row.new("serious") else ""
    phrases = [
        f"Adverse event: {row.text('kind', row.new('kind'))}, {row.text('severity', row.new('severity')).lower()}"
        f"{serious}, onset {moment(row.new('onset_at'), 'time')}"
    ]
    if row.new("action_taken"):
        phrases.append(f"Action taken: {row.new('action_taken')}")
    if row.new("description"):
        phrases.append(f"Description: {row.new('description')}")
    return _with_late(row, phrases)


def _discharge(row: Row) -> list[str]:
    if not row.changes:
        return []
    readiness = [n for n in ("alert", "oriented", "steady") if row.new(n) is True]
    relationship = f" ({row.new('picked_up_relationship')})" if row.new("picked_up_relationship") else ""
    phrases = [
        f"Discharged at {moment(row.new('discharged_at'), 'time')}",
        "Ready: " + (", ".join(readiness) or "not recorded"),
        f"Taken home by {row.new('picked_up_by') or EMPTY}{relationship} at {moment(row.new('picked_up_at'), 'time')}"
        + ("" if row.new("matches_arrangement") else ", not the arranged ride"),
    ]
    if row.new("would_have_been_ready_at"):
        phrases.append(f"Would have been ready at {moment(row.new('would_have_been_ready_at'), 'time')}")
    if row.new("notes"):
        phrases.append(f"Notes: {row.new('notes')}")
    return [*phrases, _status(row)]


def _rems(row: Row) -> list[str]:
    if not row.changes:
        return []
    reference = f", reference {row.new('reference')}" if row.new("reference") else ""
    return [f"REMS record marked submitted on {day(row.new('submitted_on'))}{reference}"]


def _addendum(row: Row) -> list[str]:
    if not row.changes:
        return []
    what = f"Addendum to the REMS record's {row.new('field')}" if row.new("field") else "Addendum"
    return [f"{what}: {row.new('value')}", f"Reason: {row.new('reason')}"]


def register() -> None:
    describer_register("checkin", _checkin)
    describer_register("vitalsreading", _reading)
    describer_register("prescriberoverride", _override)
    describer_register("doserecord", _dose)
    describer_register("deviceadministration", _device)
    describer_register("adverseevent", _adverse_event)
    describer_register("discharge", _discharge)
    describer_register("remssubmission", _rems)
    describer_register("addendum", _addendum)
