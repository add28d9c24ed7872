"""The audit report's words for the schedule's rows: bookings, moves, cancellations, no-shows,
rides home, courses started, stopped, re-planned and reviewed (``clinic.audit_words``).
Registered by ``registrations.register()``. Written in the language of the page that shows them."""

from django.utils.dates import WEEKDAYS_ABBR
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

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

# "Mon" ... "Sun" (Django's own translated abbreviations), Monday first.
WEEKDAYS = tuple(WEEKDAYS_ABBR[d] for d in range(7))


def _was(field, value) -> str:
    return value_text(field, value).lower()


def _status(row: Row, object_type: str = "session") -> str:
    old, new = row.old("status"), row.new("status")
    field = field_of(object_type, "status")
    if new is None:
        return ""
    text = value_text(field, new)
    return _("%(new)s (was %(old)s)") % {"new": text, "old": _was(field, old)} if old else text


def _booked(row: Row) -> list[str]:
    if row.action != "create" or not row.changes:
        return []
    values = {"when": moment(row.new("start")), "chair": row.new("chair") or EMPTY}
    details = []
    if row.new("sequence"):
        details.append(_("session %(number)s") % {"number": row.new("sequence")})
    if row.new("phase_name"):
        details.append(row.new("phase_name"))
    if row.new("planned_dose_mg"):
        details.append(_("%(dose)s mg planned") % {"dose": row.new("planned_dose_mg")})
    if details:
        return [_("Booked %(when)s in %(chair)s (%(details)s)") % {**values, "details": ", ".join(details)}]
    return [_("Booked %(when)s in %(chair)s") % values]


def _move(row: Row) -> list[str]:
    phrases = []
    if "chair" in row.changes:
        phrases.append(_("Moved to %(chair)s (was %(old)s)") % {"chair": row.new("chair"), "old": row.old("chair")})
    if "start" in row.changes:
        phrases.append(_("Start %(when)s") % {"when": moment_was(row.new("start"), row.old("start"))})
    if not phrases:
        chair = row.summary.get("chair")
        phrases.append(_("Moved to chair #%(chair)s") % {"chair": chair} if chair else _("Moved"))
    if row.summary.get("following"):
        phrases.append(_("with the course's later sessions"))
    return phrases


def _cancel(row: Row) -> list[str]:
    old = row.old("status")
    if old is None:
        phrases = [_("Cancelled")]
    else:
        phrases = [_("Cancelled (was %(status)s)") % {"status": _was(field_of("session", "status"), old)}]
    if row.new("cancel_reason"):
        phrases.append(_("Reason: %(reason)s") % {"reason": row.new("cancel_reason")})
    return phrases


def _no_show(row: Row) -> list[str]:
    old = row.old("status")
    if old:
        return [_("Marked no-show (was %(status)s)") % {"status": _was(field_of("session", "status"), old)}]
    return [_("Marked no-show")]


def _ride_changes(row: Row) -> str:
    return _("Ride home: %(changes)s") % {"changes": "; ".join(change_words(row, name) for name in row.changed())}


def _ride(row: Row) -> list[str]:
    if "changes" not in row.summary:
        return [_("Ride home recorded")]
    if not row.changes:
        return [_("Ride home saved, nothing changed")]
    return [_ride_changes(_as_ride(row))]


def _as_ride(row: Row) -> Row:
    return Row(row.action, "transportarrangement", row.object_id, row.summary)


def _patient_confirmed(row: Row) -> list[str]:
    phrases = [_("The patient confirmed they are coming, through the reminder link")]
    if row.changes:
        phrases.append(_ride_changes(row))
    return phrases


def _weekdays(days) -> str:
    return ", ".join(str(WEEKDAYS[d]) for d in days if isinstance(d, int) and 0 <= d < 7) or EMPTY


def _course_started(row: Row) -> list[str]:
    if row.action != "create" or not row.changes:
        return []
    values = {
        "protocol": row.new("protocol"),
        "site": row.new("site"),
        "day": day(row.new("start_date")),
        "weekdays": _weekdays(row.new("weekdays") or []),
        "time": clock(row.new("start_time")),
        "chair": row.new("preferred_chair"),
    }
    if values["chair"]:
        started = _(
            "Course started: %(protocol)s at %(site)s, from %(day)s, %(weekdays)s at %(time)s, %(chair)s preferred"
        )
    else:
        started = _("Course started: %(protocol)s at %(site)s, from %(day)s, %(weekdays)s at %(time)s")
    phrases = [started % values]
    booked = row.summary.get("booked") or []
    count = row.summary.get("sessions", len(booked))
    if booked:
        first = {"count": count, "first": moment(booked[0]["start"]), "chair": booked[0]["chair"]}
        if len(booked) > 1:
            words = ngettext(
                "%(count)s session booked, %(first)s (%(chair)s) to %(last)s",
                "%(count)s sessions booked, %(first)s (%(chair)s) to %(last)s",
                count,
            ) % {**first, "last": moment(booked[-1]["start"])}
        else:
            words = (
                ngettext(
                    "%(count)s session booked, %(first)s (%(chair)s)",
                    "%(count)s sessions booked, %(first)s (%(chair)s)",
                    count,
                )
                % first
            )
        phrases.append(words)
    return phrases


def _course_stopped(row: Row) -> list[str]:
    status = _status(row, "course")
    phrases = [_("Course stopped: %(status)s") % {"status": status} if status else _("Course stopped")]
    if row.summary.get("reason"):
        phrases.append(_("Reason: %(reason)s") % {"reason": row.summary["reason"]})
    count = len(row.summary.get("cancelled") or [])
    phrases.append(
        ngettext("%(count)s session still to come cancelled", "%(count)s sessions still to come cancelled", count)
        % {"count": count}
    )
    return phrases


def _course_replanned(row: Row) -> list[str]:
    booked = row.summary.get("booked")
    if not isinstance(booked, dict):
        return []
    missed = row.summary.get("missed_start")
    values = {"when": moment(booked.get("start")), "chair": booked.get("chair", EMPTY)}
    if missed:
        made_up = _("Missed session of %(missed)s made up on %(when)s in %(chair)s") % {
            **values,
            "missed": moment(missed),
        }
    else:
        made_up = _("Missed session made up on %(when)s in %(chair)s") % values
    phrases = [made_up]
    moved = row.summary.get("moved") or {}
    for changes in moved.values():
        moved_row = Row(row.action, "session", "", {"changes": changes})
        phrases.append(_("Later session: %(changes)s") % {"changes": ", ".join(_move(moved_row))})
    return phrases


def _course_reviewed(row: Row) -> list[str]:
    field = field_of("coursereview", "decision")
    decision = value_text(field, row.summary.get("decision"))
    phase = row.summary.get("phase") or _("the phase")
    phrases = [_("Prescriber's review of %(phase)s: %(decision)s") % {"phase": phase, "decision": decision}]
    if row.new("note"):
        phrases.append(_("Note: %(note)s") % {"note": row.new("note")})
    booked, cancelled = row.summary.get("booked") or [], row.summary.get("cancelled") or []
    if booked:
        first = row.summary.get("first_booked")
        count = len(booked)
        if first:
            words = ngettext(
                "%(count)s session booked from %(when)s", "%(count)s sessions booked from %(when)s", count
            ) % {"count": count, "when": moment(first)}
        else:
            words = ngettext("%(count)s session booked", "%(count)s sessions booked", count) % {"count": count}
        phrases.append(words)
    if cancelled:
        count = len(cancelled)
        phrases.append(
            ngettext("%(count)s session cancelled", "%(count)s sessions cancelled", count) % {"count": count}
        )
    if "review_phase_order" in row.changes:
        order = row.new("review_phase_order")
        phrases.append(
            _("Next review after phase %(order)s") % {"order": order}
            if order is not None
            else _("No further review planned")
        )
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
