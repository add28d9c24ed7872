"""The audit report's words for the session day's rows: check-in, readings and their
corrections, overrides, the dose and each device, adverse events, the discharge, the REMS
record and addenda (``clinic.audit_words``). Registered by ``MonitoringConfig.ready()``."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

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

from .models import CheckIn, ReadingKind


def _status(row: Row) -> str:
    """The session's status change a row of the day records ("Session checked in (was booked)")."""
    old, new = row.old("status"), row.new("status")
    if not new or old == new:
        return ""
    field = _field("session", "status")
    status = value_text(field, new).lower()
    if old:
        return _("Session %(status)s (was %(old)s)") % {"status": status, "old": value_text(field, old).lower()}
    return _("Session %(status)s") % {"status": status}


def _with_late(row: Row, phrases: list[str]) -> list[str]:
    return [*phrases, late_words(row)]


def _notes(text) -> str:
    return _("Notes: %(notes)s") % {"notes": text}


def _reason(text) -> str:
    return _("Reason: %(reason)s") % {"reason": text}


def _checkin(row: Row) -> list[str]:
    if "changes" not in row.summary:
        return []
    phrases = []
    if row.action == "create":
        phrases.append(_("Checked in, arrived %(time)s") % {"time": moment(row.new("arrived_at"))})
        done = [field_name("checkin", n) for n in CheckIn.CHECKLIST if row.new(n) is True]
        missing = [field_name("checkin", n) for n in CheckIn.CHECKLIST if row.new(n) is False]
        if done:
            phrases.append(_("Checklist: %(items)s") % {"items": "; ".join(done)})
        if missing:
            phrases.append(_("Not yet: %(items)s") % {"items": "; ".join(missing)})
        if row.new("notes"):
            phrases.append(_notes(row.new("notes")))
    else:
        names = [n for n in row.changed() if n != "status" and not n.startswith("ride_")]
        if names:
            changes = "; ".join(change_words(row, n) for n in names)
            phrases.append(_("Check-in updated: %(changes)s") % {"changes": changes})
        elif not row.changes:
            phrases.append(_("Check-in saved, nothing changed"))
    ride = {n.removeprefix("ride_"): pair for n, pair in row.changes.items() if n.startswith("ride_")}
    if ride:
        ride_row = Row(row.action, "transportarrangement", "", {"changes": ride})
        changes = "; ".join(change_words(ride_row, n) for n in ride_row.changed())
        phrases.append(_("Ride home: %(changes)s") % {"changes": changes})
    return _with_late(row, [*phrases, _status(row)])


# The vitals' short names, in English (translated where a row is described).
VITAL_NAMES = (
    ("heart_rate", gettext_noop("HR"), ""),
    ("spo2", gettext_noop("SpO2"), "%"),
    ("respiratory_rate", gettext_noop("RR"), ""),
    ("moaas", gettext_noop("MOAA/S"), ""),
    ("cadss", gettext_noop("CADSS"), ""),
)


def _vitals(values: dict) -> str:
    """ "BP 150/90, HR 72, SpO2 98%, RR 14, MOAA/S 5" from {field: value}."""
    parts = []
    if values.get("systolic") is not None or values.get("diastolic") is not None:
        parts.append(
            _("BP %(systolic)s/%(diastolic)s")
            % {"systolic": values.get("systolic", EMPTY), "diastolic": values.get("diastolic", EMPTY)}
        )
    for name, label, unit in VITAL_NAMES:
        if values.get(name) is not None:
            parts.append(f"{_(label)} {values[name]}{unit}")
    if values.get("dissociation") is True:
        parts.append(_("dissociation"))
    return ", ".join(parts)


# A reading of each kind, in English (translated where a row is described).
READING_WORDS = {
    ReadingKind.PRE_DOSE: gettext_noop("Pre-dose reading"),
    ReadingKind.CHECKPOINT: gettext_noop("Checkpoint reading"),
    ReadingKind.DISCHARGE: gettext_noop("Before discharge reading"),
    ReadingKind.EXTRA: gettext_noop("Extra reading"),
}


def _kind(row: Row, kind, minute=None) -> str:
    """ "40-minute checkpoint reading", "Pre-dose reading"."""
    if kind == "checkpoint" and minute:
        return _("%(minutes)s-minute checkpoint reading") % {"minutes": minute}
    if kind in READING_WORDS:
        return _(READING_WORDS[kind])
    return _("%(kind)s reading") % {"kind": value_text(_field("vitalsreading", "kind"), kind)}


def _reading(row: Row) -> list[str]:
    if not row.changes:
        return []
    if "corrects" in row.summary:
        return _correction(row)
    values = {name: row.new(name) for name in row.changes}
    what = _kind(row, row.new("kind"), row.new("checkpoint_minute"))
    phrases = [
        _("%(reading)s at %(time)s: %(values)s")
        % {"reading": what, "time": moment(row.new("taken_at")), "values": _vitals(values)}
    ]
    if row.new("flags"):
        # A reading's flags are stored in English.
        phrases.append(_("Flagged: %(flags)s") % {"flags": ", ".join(_(flag) for flag in row.new("flags"))})
    if row.new("notes"):
        phrases.append(_notes(row.new("notes")))
    return _with_late(row, phrases)


def _correction(row: Row) -> list[str]:
    kind = row.summary.get("kind")
    what = _kind(row, kind).lower() if kind else _("reading")
    changed = [
        _("%(field)s %(value)s (was %(old)s)")
        % {
            "field": field_label("vitalsreading", n),
            "value": row.new(n),
            "old": row.old(n) if row.old(n) is not None else EMPTY,
        }
        for n in row.changed()
        if n not in ("correction_reason", "notes")
    ]
    phrases = [
        _("Corrected the %(reading)s #%(number)s: %(changes)s")
        % {"reading": what, "number": row.summary["corrects"], "changes": "; ".join(changed) or _("same values")}
    ]
    if row.new("correction_reason"):
        phrases.append(_reason(row.new("correction_reason")))
    if "notes" in row.changes:
        phrases.append(change_words(row, "notes"))
    return phrases


def _override(row: Row) -> list[str]:
    if not row.changes:
        return []
    phrases = [_("Prescriber override of the %(kind)s") % {"kind": row.text("kind", row.new("kind")).lower()}]
    if row.new("blocks"):
        phrases.append(_("It lifted: %(blocks)s") % {"blocks": "; ".join(row.new("blocks"))})
    if row.new("reason"):
        phrases.append(_reason(row.new("reason")))
    return phrases


def _mg(value) -> str:
    return _("%(dose)s mg") % {"dose": value} if value not in (None, "") else EMPTY


def _dose(row: Row) -> list[str]:
    if row.action == "create" and row.changes:
        if row.new("devices_planned"):
            phrases = [
                _("Dose recorded: %(devices)s devices (%(dose)s), lot %(lot)s, first device %(time)s")
                % {
                    "devices": row.new("devices_planned"),
                    "dose": _mg(row.new("dose_mg")),
                    "lot": row.new("lot_number") or EMPTY,
                    "time": moment(row.new("first_device_at"), "time_seconds"),
                }
            ]
        else:
            phrases = [
                _("Dose recorded: %(drug)s %(dose)s (%(weight)s kg × %(mg_per_kg)s mg/kg), infusion from %(time)s")
                % {
                    "drug": row.text("drug", row.new("drug")),
                    "dose": _mg(row.new("dose_mg")),
                    "weight": row.new("weight_kg") or EMPTY,
                    "mg_per_kg": row.new("mg_per_kg") or EMPTY,
                    "time": moment(row.new("infusion_start"), "time"),
                }
            ]
        return _with_late(row, [*phrases, _status(row)])
    if "stopped_cause" in row.changes:
        given, planned = row.summary.get("devices_given"), row.summary.get("devices_planned")
        cause = row.text("stopped_cause", row.new("stopped_cause"))
        if given is not None and planned:
            stopped = _("Dosing stopped early after %(given)s of %(planned)s devices because of %(cause)s") % {
                "given": given,
                "planned": planned,
                "cause": cause,
            }
        else:
            stopped = _("Dosing stopped early because of %(cause)s") % {"cause": cause}
        phrases = [stopped]
        if row.new("stopped_event"):
            phrases.append(_("Adverse event #%(number)s") % {"number": row.new("stopped_event")})
        if row.new("stopped_note"):
            phrases.append(_("Note: %(note)s") % {"note": row.new("stopped_note")})
        return phrases
    if "infusion_end" in row.changes:
        return _with_late(row, [_("Infusion ended %(time)s") % {"time": moment(row.new("infusion_end"), "time")}])
    return []


def _device(row: Row) -> list[str]:
    if not row.changes:
        return []
    planned = row.summary.get("devices_planned")
    values = {
        "number": row.new("number"),
        "planned": planned,
        "time": moment(row.new("administered_at"), "time_seconds"),
    }
    if planned:
        given = _("Device %(number)s of %(planned)s given at %(time)s") % values
    else:
        given = _("Device %(number)s given at %(time)s") % values
    return _with_late(row, [given])


def _adverse_event(row: Row) -> list[str]:
    if not row.changes:
        return []
    values = {
        "kind": row.text("kind", row.new("kind")),
        "severity": row.text("severity", row.new("severity")).lower(),
        "time": moment(row.new("onset_at"), "time"),
    }
    if row.new("serious"):
        phrases = [_("Adverse event: %(kind)s, %(severity)s, serious, onset %(time)s") % values]
    else:
        phrases = [_("Adverse event: %(kind)s, %(severity)s, onset %(time)s") % values]
    if row.new("action_taken"):
        phrases.append(_("Action taken: %(action)s") % {"action": row.new("action_taken")})
    if row.new("description"):
        phrases.append(_("Description: %(description)s") % {"description": row.new("description")})
    return _with_late(row, phrases)


# The readiness checks of a discharge, in English (translated where a row is described).
READY_WORDS = {"alert": gettext_noop("alert"), "oriented": gettext_noop("oriented"), "steady": gettext_noop("steady")}


def _discharge(row: Row) -> list[str]:
    if not row.changes:
        return []
    readiness = [_(word) for name, word in READY_WORDS.items() if row.new(name) is True]
    person = row.new("picked_up_by") or EMPTY
    if row.new("picked_up_relationship"):
        person = f"{person} ({row.new('picked_up_relationship')})"
    taken = {"person": person, "time": moment(row.new("picked_up_at"), "time")}
    phrases = [
        _("Discharged at %(time)s") % {"time": moment(row.new("discharged_at"), "time")},
        _("Ready: %(checks)s") % {"checks": ", ".join(readiness) or _("not recorded")},
        _("Taken home by %(person)s at %(time)s") % taken
        if row.new("matches_arrangement")
        else _("Taken home by %(person)s at %(time)s, not the arranged ride") % taken,
    ]
    if row.new("would_have_been_ready_at"):
        phrases.append(
            _("Would have been ready at %(time)s") % {"time": moment(row.new("would_have_been_ready_at"), "time")}
        )
    if row.new("notes"):
        phrases.append(_notes(row.new("notes")))
    return [*phrases, _status(row)]


def _rems(row: Row) -> list[str]:
    if not row.changes:
        return []
    day_ = day(row.new("submitted_on"))
    if row.new("reference"):
        return [
            _("REMS record marked submitted on %(day)s, reference %(reference)s")
            % {"day": day_, "reference": row.new("reference")}
        ]
    return [_("REMS record marked submitted on %(day)s") % {"day": day_}]


def _addendum(row: Row) -> list[str]:
    if not row.changes:
        return []
    if row.new("field"):
        # An addendum names its field by the field's English label.
        what = _("Addendum to the REMS record's %(field)s: %(value)s") % {
            "field": _(row.new("field")),
            "value": row.new("value"),
        }
    else:
        what = _("Addendum: %(value)s") % {"value": row.new("value")}
    return [what, _reason(row.new("reason"))]


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
