"""The schedule speaks the clinic's language: with a small Spanish catalog, the session page's
labels and statuses, the view messages, the audit report's sentences, the prescriber's review
choices, the calendar files, the reminders' skip reasons, the staff alerts and the planning
rules come out in Spanish. And every text of the scheduling app a person reads is marked, where
that can be checked mechanically (choices labels, field and form texts, no sentence built from
fragments outside ``gettext``)."""

import ast
import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import pytest
from django import forms as django_forms
from django.apps import apps
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.functional import Promise
from icalendar import Calendar

from clinic.audit_words import describe
from clinic.models import StaffAlert
from scheduling import calendar, forms, rules, rules_reminders, rules_review, services, views_confirm
from scheduling.models import Reminder, SessionStatus
from tests import factories
from tests.clinic.test_translation import CATALOG, _msgids, speaking_spanish
from tests.scheduling.booking_helpers import MONDAY, at, book, chair

SCHEDULING = Path(settings.BASE_DIR) / "scheduling"

SPANISH = {
    **CATALOG,
    "Booked": "Reservada",
    "This session only": "Solo esta sesión",
    "Phone": "Teléfono",
    "Ride home confirmed.": "Transporte de vuelta confirmado.",
    "Moved to %(chair)s (was %(old)s)": "Movida a %(chair)s (antes %(old)s)",
    "Course stopped": "Curso detenido",
    "%(count)s session still to come cancelled\0%(count)s sessions still to come cancelled": (
        "%(count)s sesión pendiente cancelada\0%(count)s sesiones pendientes canceladas"
    ),
    "Continue at the same frequency (the phase again)": "Seguir con la misma frecuencia (repetir la fase)",
    "Write why the course stops.": "Escriba por qué se detiene el curso.",
    "Who is driving you home?": "¿Quién le lleva a casa?",
    "%(chair)s: %(patient)s": "%(chair)s — %(patient)s",
    "Appointment at %(clinic_name)s": "Cita en %(clinic_name)s",
    "session cancelled": "sesión cancelada",
    "No confirmed ride home for %(patient)s on %(when)s.": "Sin transporte confirmado para %(patient)s el %(when)s.",
    "the site is closed on %(weekday)ss": "el centro cierra los %(weekday)s",
}


@pytest.fixture
def spanish(settings, tmp_path):
    with speaking_spanish(settings, tmp_path, SPANISH):
        yield


# --- Where people read them ---------------------------------------------------------------------


@pytest.mark.django_db
def test_the_session_page_shows_its_status_and_form_labels_in_spanish(spanish, client_for, scheduler, course, site):
    session = book(course, chair(site, 2), at(MONDAY, 9))
    page = client_for(scheduler).get(reverse("scheduling:session-detail", args=[session.pk])).content.decode()
    assert '<dd class="col-sm-8" id="session-status">Reservada</dd>' in page
    assert "Solo esta sesión" in page  # the move's scope, a choice of the form
    assert "Teléfono" in page  # the ride home's phone, a label of the form


@pytest.mark.django_db
def test_a_view_message_is_in_spanish(spanish, client_for, scheduler, course, site):
    session = book(course, chair(site, 2), at(MONDAY, 9))
    response = client_for(scheduler).post(
        reverse("scheduling:session-transport", args=[session.pk]),
        {"kind": "escort", "name": "Sam Lee", "phone": "", "confirmed": "on"},
        follow=True,
    )
    assert "Transporte de vuelta confirmado." in response.content.decode()


def test_the_audit_reports_sentences_are_in_spanish(spanish):
    moved = SimpleNamespace(
        action="update",
        object_type="session",
        object_id="1",
        summary={"action": "move", "changes": {"chair": ["Chair 2", "Chair 3"]}},
    )
    assert describe(moved) == ["Movida a Chair 3 (antes Chair 2)"]
    stopped = SimpleNamespace(
        action="update", object_type="course", object_id="1", summary={"action": "stop", "cancelled": [4, 5]}
    )
    assert describe(stopped) == ["Curso detenido", "2 sesiones pendientes canceladas"]


def test_the_review_choices_and_the_review_forms_error_are_in_spanish(spanish):
    choices = rules_review.allowed_decisions(index=0, count=2, paused=True)
    assert str(dict(choices)["continue"]) == "Seguir con la misma frecuencia (repetir la fase)"
    form = forms.CourseReviewForm({"decision": "stop", "note": ""}, decisions=choices)
    assert not form.is_valid()
    assert form.errors["note"] == ["Escriba por qué se detiene el curso."]


def test_the_patients_ride_form_asks_in_spanish(spanish):
    assert str(views_confirm.RideForm().fields["name"].label) == "¿Quién le lleva a casa?"


@pytest.mark.django_db
def test_the_calendar_files_name_the_appointment_in_spanish(spanish, patient, site):
    patient.first_name, patient.last_name = "Robin", "Quill"
    session = factories.make_session(patient, site, dt.datetime(2027, 3, 1, 14, tzinfo=dt.UTC), sync=False)
    now = dt.datetime(2027, 2, 26, 12, tzinfo=dt.UTC)
    mine = calendar.patient_session(session, clinic_name="Riverside", phone="", domain="clinic", now=now)
    assert str(Calendar.from_ical(mine).walk("VEVENT")[0]["summary"]) == "Cita en Riverside"
    feed = calendar.site_feed([session], site=site, domain="clinic", now=now)
    assert str(Calendar.from_ical(feed).walk("VEVENT")[0]["summary"]) == f"{session.chair.name} — R.Q."


@pytest.mark.django_db
def test_a_reminders_skip_reason_is_kept_in_english_and_shown_in_spanish(spanish, client_for, scheduler, course, site):
    session = book(course, chair(site, 2), at(MONDAY, 9))
    services.session_cancel(session=session, reason="unwell", version=session.version, user=scheduler)
    reminder = Reminder.objects.filter(session=session).first()
    assert reminder.skip_reason == "session cancelled"  # what the planner compares, whatever the language
    assert reminder.skip_reason_display == "sesión cancelada"
    page = client_for(scheduler).get(reverse("scheduling:session-detail", args=[session.pk])).content.decode()
    assert '<span class="small text-muted">sesión cancelada</span>' in page  # the session page's reminders


@pytest.mark.django_db
def test_a_staff_alert_is_written_in_spanish(spanish, course, site):
    session = book(course, chair(site, 2), at(MONDAY, 9))
    assert services.rides_unconfirmed_alert(now=session.start - dt.timedelta(hours=2)) == 1
    alert = StaffAlert.objects.get(kind="ride_unconfirmed", session_id=session.pk)
    assert alert.message.startswith(f"Sin transporte confirmado para {session.patient.full_name} el ")


def test_a_planning_rule_names_the_day_in_spanish(spanish):
    usable, problems = rules.usable_weekdays([6], dt.time(9), 60, {0: (dt.time(8), dt.time(18))})
    assert (usable, problems) == ([], ["el centro cierra los domingo"])  # Django's own "Sunday"


def test_without_a_catalog_the_schedule_stays_english(settings):
    settings.LANGUAGE_CODE = "en-us"
    with translation.override("en-us"):
        assert rules.usable_weekdays([6], dt.time(9), 60, {})[1] == ["the site is closed on Sundays"]
        assert str(SessionStatus.NO_SHOW.label) == "No-show"
        assert rules_reminders.reason_text(rules_reminders.REASON_TOO_LATE) == (
            "too late: booked after the reminder time"
        )


# --- Every text marked --------------------------------------------------------------------------


def _scheduling_models():
    return list(apps.get_app_config("scheduling").get_models())


def test_every_choices_label_of_the_schedule_is_translated_where_shown():
    labels = [
        (model.__name__, field.name, label)
        for model in _scheduling_models()
        for field in model._meta.get_fields()
        if getattr(field, "choices", None)
        for _, label in field.flatchoices
    ]
    assert len(labels) >= 20
    unmarked = [entry for entry in labels if not isinstance(entry[2], Promise)]
    assert not unmarked, unmarked


def test_every_written_field_name_and_help_text_of_the_schedule_is_marked():
    unmarked = []
    for model in _scheduling_models():
        for field in model._meta.concrete_fields:
            if field.auto_created:  # the id
                continue
            written = field.verbose_name != field.name.replace("_", " ")
            if written and not isinstance(field.verbose_name, Promise):
                unmarked.append((model.__name__, field.name, "verbose_name"))
            if field.help_text and not isinstance(field.help_text, Promise):
                unmarked.append((model.__name__, field.name, "help_text"))
    assert not unmarked, unmarked


FORMS = [
    forms.CourseSetupForm,
    forms.ProposalRowForm,
    forms.SessionMoveForm,
    forms.SessionCancelForm,
    forms.CourseStopForm,
    forms.TransportForm,
    forms.CourseReviewForm,
    views_confirm.RideForm,
]


@pytest.mark.parametrize("form_class", FORMS, ids=lambda form: form.__name__)
def test_every_label_placeholder_choice_and_error_of_the_schedules_forms_is_marked(form_class):
    unmarked = []
    for name, field in form_class.base_fields.items():
        if field.widget.is_hidden:
            continue
        texts = {"label": field.label, "help_text": field.help_text or None}
        texts["placeholder"] = field.widget.attrs.get("placeholder")
        if isinstance(field, django_forms.ChoiceField) and not isinstance(field, django_forms.ModelChoiceField):
            texts |= {f"choice {value}": label for value, label in field.choices if value != ""}
        texts |= {f"error {code}": message for code, message in field.error_messages.items()}
        unmarked += [(name, what) for what, text in texts.items() if text is not None and not isinstance(text, Promise)]
    unmarked += [
        ("form", code)
        for code, message in getattr(form_class, "error_messages", {}).items()
        if not isinstance(message, Promise)
    ]
    assert not unmarked, unmarked


def test_the_review_choices_are_marked_and_the_skip_reasons_are_in_the_catalog():
    assert all(isinstance(label, Promise) for position in rules_review.LABELS.values() for label in position.values())
    catalog = _msgids((Path(settings.BASE_DIR) / "locale" / "es" / "LC_MESSAGES" / "django.po").read_text())
    reasons = {value for name, value in vars(rules_reminders).items() if name.startswith("REASON_")}
    assert len(reasons) == 8
    assert reasons <= catalog, sorted(reasons - catalog)


# Calls whose text a person reads: a sentence there is written with gettext and named values,
# never assembled from an f-string, a literal or "+" (so a translator sees the whole sentence).
# The place of the text among each call's arguments (``_done``: a view's success message).
_SHOWN_CALLS = {"ValidationError": 0, "ScheduleError": 0, "_done": 2}
_MESSAGE_LEVELS = {"debug", "info", "success", "warning", "error"}
_SHOWN_KEYWORDS = {"message", "label", "help_text", "summary", "placeholder"}


def _literal_text(node) -> bool:
    """A text written in the code rather than looked up in the catalog."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and any(c.isalpha() for c in node.value)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return _literal_text(node.left) or (isinstance(node.op, ast.Add) and _literal_text(node.right))
    if isinstance(node, ast.IfExp):
        return _literal_text(node.body) or _literal_text(node.orelse)
    return False


def _call_name(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _unmarked_texts(tree) -> list[int]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _call_name(node)
            shown = []
            if name in _SHOWN_CALLS:
                shown = node.args[_SHOWN_CALLS[name] :][:1]
            elif name in _MESSAGE_LEVELS and getattr(node.func, "value", None) is not None:
                shown = node.args[1:2] if getattr(node.func.value, "id", "") == "messages" else []
            shown += [kw.value for kw in node.keywords if kw.arg in _SHOWN_KEYWORDS]
            found += [node.lineno for value in shown if _literal_text(value)]
        elif isinstance(node, ast.Assign):
            targets = [t for t in node.targets if isinstance(t, ast.Attribute) and t.attr == "cancel_reason"]
            if targets and _literal_text(node.value):
                found.append(node.lineno)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "placeholder" and _literal_text(value):
                    found.append(node.lineno)
    return found


def test_no_text_of_the_scheduling_app_is_assembled_outside_gettext():
    unmarked = {}
    for path in sorted(SCHEDULING.glob("*.py")):
        if path.name == "demo.py":  # the demo command's output, for the operator
            continue
        if lines := _unmarked_texts(ast.parse(path.read_text())):
            unmarked[path.name] = lines
    assert not unmarked, unmarked


def test_the_audit_words_hold_no_hand_built_sentence():
    """Every phrase of the audit report is a whole sentence of the catalog: no f-string at all."""
    tree = ast.parse((SCHEDULING / "audit_words.py").read_text())
    assert not [node.lineno for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)]


def test_the_mechanical_check_finds_an_unmarked_sentence():
    sample = ast.parse(
        "messages.success(request, f'Ride home {label}.')\n"
        "raise ValidationError('The page was incomplete.')\n"
        "session.cancel_reason = 'Course stopped: ' + reason\n"
        "alert(message=_('fine') % {}, label=_('fine'))\n"
        "return _done(request, session, f'Session {session.pk} cancelled.')\n"
    )
    assert sorted(_unmarked_texts(sample)) == [1, 2, 3, 5]
