"""What an audit row did, in words, with the old and new values: the Details column of the
audit report ("Moved to Chair 3 (was Chair 2)", "Start Thu 3 Dec 14:00 (was 13:00)").

Pure: it reads a row's action, object type and summary (no database) and writes dates and
times through ``clinic.formats.when``, in the clinic's zone. Each app registers the describers
of its own records (``describer_register``, from its AppConfig.ready()); a row no describer
claims reads "Field: old → new" for each of its ``changes`` (the field's verbose name, values
as the field shows them), then its other summary keys."""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import formats
from .audit import HIDDEN

EMPTY = "—"


@dataclass(frozen=True)
class Row:
    """An audit row as a describer reads it."""

    action: str
    object_type: str
    object_id: str
    summary: dict

    @property
    def act(self) -> str:
        """The summary's "action": which act of several on one kind of record (move, cancel...)."""
        return str(self.summary.get("action", ""))

    @property
    def changes(self) -> dict:
        changes = self.summary.get("changes")
        return changes if isinstance(changes, dict) else {}

    def new(self, name: str, default=None):
        pair = self.changes.get(name)
        return pair[1] if isinstance(pair, list | tuple) and len(pair) == 2 else default

    def old(self, name: str, default=None):
        pair = self.changes.get(name)
        return pair[0] if isinstance(pair, list | tuple) and len(pair) == 2 else default

    def text(self, name: str, value) -> str:
        """``value`` of this row's record's field ``name`` as people read it."""
        return value_text(field_of(self.object_type, name), value)

    def label(self, name: str) -> str:
        return field_label(self.object_type, name)

    def changed(self) -> list[str]:
        """The names of the changes in the order of the record's fields (the database keeps a
        summary's keys in an order of its own), then any others alphabetically."""
        order = _field_order(self.object_type)
        return sorted(self.changes, key=lambda name: (order.get(name, len(order)), name))


Describer = Callable[[Row], list[str] | None]
_describers: dict[tuple[str, str], Describer] = {}
_SHAPE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError)


def describer_register(object_type: str, describer: Describer, *, act: str = "") -> None:
    """``describer`` writes the words of the rows of ``object_type`` (with ``act``: only the rows
    whose summary's "action" is ``act``). It returns phrases, or nothing to leave the row to
    the field-by-field words."""
    _describers[object_type, act] = describer


def describe(event) -> list[str]:
    """The phrases that say what ``event`` (an AuditEvent, or anything with its action,
    object_type, object_id and summary) did."""
    summary = event.summary if isinstance(event.summary, dict) else {}
    row = Row(str(event.action), str(event.object_type), str(event.object_id or ""), summary)
    describer = _describers.get((row.object_type, row.act)) or _describers.get((row.object_type, ""))
    # A row of a shape its describer does not expect (written by an older version, or by hand)
    # falls back to the field-by-field words, and those to the summary as stored.
    try:
        phrases = describer(row) if describer is not None else None
    except _SHAPE_ERRORS:
        phrases = None
    if phrases:
        return [p for p in phrases if p]
    try:
        return fields_words(row)
    except _SHAPE_ERRORS:
        return [_("%(field)s: %(value)s") % {"field": key, "value": value} for key, value in summary.items()]


# --- Values -----------------------------------------------------------------------------------


@cache
def _models() -> dict[str, type[models.Model]]:
    """Every installed model by its ``model_name`` (the audit rows' object type); the project's
    own apps, installed last, win over Django's (``session``)."""
    return {model._meta.model_name: model for model in apps.get_models()}


@cache
def _field_order(object_type: str) -> dict[str, int]:
    model = _models().get(object_type)
    return {f.name: i for i, f in enumerate(model._meta.get_fields())} if model else {}


@cache
def _choices(field) -> dict:
    return dict(field.flatchoices)


def field_of(object_type: str, name: str):
    model = _models().get(object_type)
    if model is None:
        return None
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:
        return None


def field_name(object_type: str, name: str) -> str:
    """The verbose name of a field of the record (as the model writes it: "REMS enrolment on file")."""
    field = field_of(object_type, name)
    verbose = getattr(field, "verbose_name", None) if field is not None else None
    return str(verbose or name.replace("_", " "))


def field_label(object_type: str, name: str) -> str:
    """``field_name`` as a label, with a capital first letter."""
    return capfirst(field_name(object_type, name))


def instant(value) -> dt.datetime | None:
    """An aware datetime from an audit value (ISO 8601 text), or None."""
    if isinstance(value, dt.datetime):
        return value
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def moment(value, style: str = "day_time") -> str:
    """An instant of an audit row in the clinic's zone ("Thu 3 Dec 14:00"); text as it is."""
    if value in (None, ""):
        return EMPTY
    parsed = instant(value)
    return formats.when(timezone.localtime(parsed), style) if parsed else str(value)


def moment_was(new, old, style: str = "day_time") -> str:
    """``new`` followed by "(was ``old``)", the old time alone when it is the same day."""
    if old in (None, ""):
        return moment(new, style)
    new_at, old_at = instant(new), instant(old)
    same_day = new_at and old_at and timezone.localtime(new_at).date() == timezone.localtime(old_at).date()
    return _("%(new)s (was %(old)s)") % {"new": moment(new, style), "old": moment(old, "time" if same_day else style)}


def day(value) -> str:
    """A date of an audit row (ISO text) as "Thu 3 Dec 2026"."""
    if value in (None, ""):
        return EMPTY
    try:
        return formats.when(dt.date.fromisoformat(str(value)[:10]), "date")
    except ValueError:
        return str(value)


def clock(value) -> str:
    """A time of day of an audit row (ISO text, "09:00:00") as the clinic's clock writes it."""
    try:
        at = dt.time.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return formats.when(dt.datetime.combine(dt.date(2000, 1, 3), at), "time")


def value_text(field, value) -> str:
    """``value`` (as an audit row stores it) the way ``field`` (None: unknown) shows it."""
    if value is None or value == "":
        return EMPTY
    if value == HIDDEN:
        return _(HIDDEN)
    if field is not None and field.name.endswith("phone") and isinstance(value, str):
        return formats.phone(value)
    if isinstance(value, list | tuple):
        return ", ".join(value_text(field, v) for v in value) or EMPTY
    if isinstance(value, bool) or isinstance(field, models.BooleanField):
        return _("yes") if value in (True, "True", "true") else _("no")
    if field is not None and field.choices:
        return str(_choices(field).get(value, value))
    if isinstance(field, models.DateTimeField):
        return moment(value)
    if isinstance(field, models.DateField):
        return day(value)
    if isinstance(field, models.TimeField):
        return clock(value)
    if isinstance(field, models.ForeignKey) and isinstance(value, int):
        return f"#{value}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {value_text(None, v)}" for k, v in value.items())
    return str(value)


def change_words(row: Row, name: str, label: str | None = None) -> str:
    """One change of ``row`` as "Label: new (was old)"; a value set on a new record as
    "Label: new"; a value removed as "Label: removed (was old)"."""
    field = field_of(row.object_type, name)
    label = label or field_label(row.object_type, name)
    old, new = row.old(name), row.new(name)
    if isinstance(field, models.DateTimeField) and instant(new):
        return _("%(field)s: %(value)s") % {"field": label, "value": moment_was(new, old)}
    if old in (None, ""):
        return _("%(field)s: %(value)s") % {"field": label, "value": value_text(field, new)}
    if new in (None, ""):
        return _("%(field)s: removed (was %(old)s)") % {"field": label, "old": value_text(field, old)}
    return _("%(field)s: %(new)s (was %(old)s)") % {
        "field": label,
        "new": value_text(field, new),
        "old": value_text(field, old),
    }


def changes_words(row: Row, skip=()) -> list[str]:
    return [change_words(row, name) for name in row.changed() if name not in skip]


def late_words(row: Row) -> str:
    """The times of a write entered afterwards ("entered late: Taken at Thu 3 Dec 09:05")."""
    late = row.summary.get("late_entry")
    if not isinstance(late, dict) or not late:
        return ""
    times = [
        # Translators: one time of a record entered afterwards, e.g. "taken at Thu 3 Dec 09:05".
        _("%(field)s %(time)s") % {"field": field_name(row.object_type, name), "time": moment(at)}
        for name, at in late.items()
    ]
    return _("Entered afterwards: %(times)s") % {"times": ", ".join(times)}


SUMMARY_LABELS = {
    "escorts_changed": gettext_lazy("Escort contacts changed"),
    "retry": gettext_lazy("Put back in the queue to send again"),
    "via": gettext_lazy("Changed through"),
}
ADMIN_WORDS = {
    "create": (gettext_lazy("Added in the admin"), gettext_lazy("Added in the admin: %(record)s")),
    "update": (gettext_lazy("Changed in the admin"), gettext_lazy("Changed in the admin: %(record)s")),
    "delete": (gettext_lazy("Deleted in the admin"), gettext_lazy("Deleted in the admin: %(record)s")),
}


def fields_words(row: Row) -> list[str]:
    """The words of a row no describer claims: how it was made, each change, then the other
    summary keys as "key: value"."""
    phrases = []
    if row.summary.get("via") == "admin":
        alone, with_record = ADMIN_WORDS.get(row.action, ADMIN_WORDS["update"])
        record = str(row.summary.get("record", ""))
        phrases.append((with_record % {"record": record}).rstrip(": ") if record else str(alone))
    phrases += changes_words(row)
    if late := late_words(row):
        phrases.append(late)
    skip = {"changes", "late_entry", "via", "record"}
    if row.changes:
        skip.add("fields")  # the names of the changes, listed with their values above
    for key, value in row.summary.items():
        if key in skip:
            continue
        if key in SUMMARY_LABELS and value is True:
            phrases.append(str(SUMMARY_LABELS[key]))
        else:
            phrases.append(
                _("%(field)s: %(value)s") % {"field": key.replace("_", " "), "value": value_text(None, value)}
            )
    return phrases


# --- The core app's own records ---------------------------------------------------------------


def _alert(row: Row) -> list[str]:
    if row.action != "update" or "acknowledged_at" not in row.changes:
        return []
    when = moment(row.new("acknowledged_at"))
    if reason := row.summary.get("resolved"):
        return [_("Alert closed at %(when)s: %(reason)s") % {"when": when, "reason": reason}]
    return [_("Alert acknowledged at %(when)s") % {"when": when}]


def _token(row: Row) -> list[str]:
    if row.action == "create" and row.changes:
        site = row.new("site")
        values = {
            "name": row.new("name"),
            "purpose": row.text("purpose", row.new("purpose")),
            "site": site,
            "prefix": row.new("prefix"),
        }
        if site:
            return [_("Access token %(name)s created for %(purpose)s at %(site)s, starting %(prefix)s") % values]
        return [_("Access token %(name)s created for %(purpose)s, starting %(prefix)s") % values]
    if row.summary.get("revoked"):
        values = {"name": row.summary.get("name", ""), "when": moment(row.new("revoked_at"))}
        return [_("Access token %(name)s revoked at %(when)s") % values]
    return []


def _patient_import(row: Row) -> list[str]:
    s = row.summary
    counts = {
        "file": s.get("file"),
        "new": s.get("new", 0),
        "updated": len(s["updated"]) if isinstance(s.get("updated"), dict) else s.get("updated", 0),
        "unchanged": s.get("unchanged", 0),
    }
    if counts["file"]:
        words = _("Patients imported from %(file)s: %(new)s new, %(updated)s updated, %(unchanged)s unchanged")
    else:
        words = _("Patients imported from a file: %(new)s new, %(updated)s updated, %(unchanged)s unchanged")
    phrases = [words % counts]
    if s.get("new_mrns"):
        phrases.append(_("New: %(mrns)s") % {"mrns": ", ".join(s["new_mrns"])})
    if isinstance(s.get("updated"), dict):
        for mrn, names in s["updated"].items():
            labels = ", ".join(field_name("patient", n) for n in names)
            phrases.append(_("%(mrn)s: %(fields)s changed") % {"mrn": mrn, "fields": labels})
    return phrases


describer_register("staffalert", _alert)
describer_register("integrationtoken", _token)
describer_register("patient_import", _patient_import)
