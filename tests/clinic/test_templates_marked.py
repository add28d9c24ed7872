"""Every text a person reads in a template is marked for translation: a clinic that translates
the catalog gets whole pages, e-mails and SMS in its language, not pages half in English.

The Django templates (``templates/``) are read with Django's template lexer, the Jinja2 partials
(``templates/jinja2/``) with Jinja2's. What a template prints outside ``{% translate %}``,
``{% blocktranslate %}...{% endblocktranslate %}`` (Django) or ``{{ _("...") }}`` (Jinja2) is
put back in place of each tag, and an HTML parser reads the result: text between tags (not
inside ``<script>``, ``<style>`` or an HTML comment) and the attributes people read (``title``,
``alt``, ``placeholder``, ``aria-label``..., the ``value`` of an ``<input>`` button) must hold
no word of letters. What is copied as written (``<code>``, ``<kbd>``, ``<samp>``) is left as it
is. A text filter's argument shown to people (``|default:"the clinic"``) must be ``_("...")``
too. The e-mail and SMS text templates (``*.txt``) are text throughout.

The allow-list is short and says why each word stays as it is in every language. The second
half of the file compiles a small Spanish catalog and reads the pages, the mail and the messages
of the core app in Spanish, and checks that every choice, name and form label of the core app's
records and forms is marked."""

import importlib
import inspect
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django import forms
from django.apps import apps
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template import engines
from django.template.base import Lexer, TokenType
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.functional import Promise

from clinic.audit import audit_record
from clinic.models import AuditAction
from clinic.models_ops import ExportJob
from clinic.services import alert_acknowledge, alert_raise
from tests import factories
from tests.clinic.test_translation import speaking_spanish

ROOT = Path(settings.BASE_DIR)
TEMPLATES = ROOT / "templates"
JINJA2 = TEMPLATES / "jinja2"

# Words that are the same in every language the clinic could pick.
ALLOWED_WORDS = {
    "mg": "the unit symbol of a dose (SI), written after the figure",
}

# Attributes a person reads: a tooltip, an image's text, a field's hint, what a screen reader
# says, a confirmation dialog (static/js/app.js shows data-confirm), what a countdown says when
# it ends (data-countdown-done) and a board cell's name on a tablet (data-label, shown by CSS).
READ_ATTRIBUTES = {
    "title",
    "alt",
    "placeholder",
    "label",
    "aria-label",
    "aria-description",
    "aria-roledescription",
    "aria-valuetext",
    "data-confirm",
    "data-countdown-done",
    "data-label",
}
# The value of an <input> button is its text; a <button>'s value is what the form sends (its
# text is its content, read as any other text).
BUTTON_INPUT_TYPES = {"submit", "button", "reset"}
# Text copied or typed as written, whatever the language: an address, a header, a CSV column.
CODE_TAGS = {"code", "kbd", "samp"}

# Filters whose string argument is a machine value, never shown: a date style, a number
# format, a slice, a sum, the characters to cut, the separator of a list of texts.
MACHINE_ARGUMENT_FILTERS = {"when", "floatformat", "stringformat", "slice", "add", "cut", "join"}
FILTER_ARGUMENT = re.compile(r"\|\s*(\w+)\s*:\s*(\"[^\"]*\"|'[^']*')")

WORD = re.compile(r"[^\W\d_]+")
# What stands for a tag or a variable in the text read: a space, so it splits no word and
# leaves an HTML tag whole (<input{% if x %} checked{% endif %}> reads <input  checked >).
HOLE = " "


def _blank(text: str) -> str:
    """``text`` with every character but its line ends made a space, so lines keep their numbers."""
    return re.sub(r"[^\n]", " ", text)


def _django_text(source: str) -> tuple[str, list[tuple[int, str]]]:
    """What a Django template prints that is not marked, tags made holes and a variable replaced
    by the text arguments of its filters (``{{ name|default:"the clinic" }}`` prints "the
    clinic"); and the text arguments written by hand inside other tags (line, argument)."""
    parts, arguments = [], []
    ending = None  # the closing tag of the block being skipped
    for token in Lexer(source).tokenize():
        if ending:
            if token.token_type == TokenType.BLOCK and token.contents.split()[0] == ending:
                ending = None
            parts.append(_blank(token.contents) if token.token_type == TokenType.TEXT else HOLE)
            continue
        if token.token_type == TokenType.TEXT:
            parts.append(token.contents)
            continue
        shown = [
            match.group(2)[1:-1]
            for match in FILTER_ARGUMENT.finditer(token.contents)
            if match.group(1) not in MACHINE_ARGUMENT_FILTERS
        ]
        if token.token_type == TokenType.VAR:
            parts.append(f" {' '.join(shown)} ")
            continue
        parts.append(HOLE)
        if token.token_type == TokenType.BLOCK:
            name, *rest = token.contents.split()
            if name in ("blocktranslate", "blocktrans"):
                ending = "end" + name
            elif name == "comment" or (name == "block" and rest[:1] == ["container"]):
                # A block named "container" holds the class of the page's <main> (base.html).
                ending = "endcomment" if name == "comment" else "endblock"
            else:
                arguments += [(token.lineno, text) for text in shown if WORD.search(text)]
    return "".join(parts), arguments


def _jinja2_text(source: str) -> str:
    """What a Jinja2 partial prints that is not marked: its text between tags, and a string it
    prints as it is (``{{ name or "nobody" }}``); a string given to a call (``_("Time")``,
    ``when(at, "time", tz)``) is not printed as written. Tags are holes."""
    parts, line = [], 1
    in_variable, depth, in_trans, block_words = False, 0, False, None
    for lineno, kind, value in engines["jinja2"].env.lex(source):
        # Keep the lines of the source (whitespace control drops some line ends).
        if lineno > line:
            parts.append("\n" * (lineno - line))
            line = lineno
        line += value.count("\n")
        if kind == "data":
            parts.append(_blank(value) if in_trans else value)
            continue
        if kind == "variable_begin":
            in_variable, depth = True, 0
        elif kind == "variable_end":
            in_variable = False
        elif kind == "block_begin":
            block_words = []
        elif kind == "block_end":
            # {% trans %}...{% endtrans %} is marked as a whole.
            in_trans = (in_trans or block_words[:1] == ["trans"]) and block_words[:1] != ["endtrans"]
            block_words = None
        elif kind == "name" and block_words is not None:
            block_words.append(value)
        elif in_variable and kind == "operator" and value in "([{":
            depth += 1
        elif in_variable and kind == "operator" and value in ")]}":
            depth -= 1
        elif in_variable and kind == "string" and depth == 0:
            parts.append(f" {' '.join(value[1:-1].split())} ")
        if kind.endswith(("_begin", "_end")):
            parts.append(HOLE)
        parts.append("\n" * value.count("\n"))
    return "".join(parts)


class _ReadText(HTMLParser):
    """The words of letters of an HTML text, outside tags, comments, scripts and styles, and in
    the attributes people read."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self._hidden = None  # "script" or "style" while inside one
        self._code = 0  # how many <code>, <kbd> or <samp> are open

    def _check(self, text: str, line: int, where: str = "") -> None:
        first = next((w for w in WORD.finditer(text) if w.group() not in ALLOWED_WORDS), None)
        if first:
            shown = " ".join(text.split())[:100]
            self.found.append((line + text[: first.start()].count("\n"), f"{where}{shown}"))

    def handle_starttag(self, tag, attrs):
        line = self.getpos()[0]
        attributes = dict(attrs)
        for name, value in attrs:
            read = name in READ_ATTRIBUTES or (
                name == "value" and tag == "input" and (attributes.get("type") or "").strip() in BUTTON_INPUT_TYPES
            )
            if read and value:
                self._check(value, line, f"<{tag} {name}=> ")
        if tag in ("script", "style"):
            self._hidden = tag
        self._code += tag in CODE_TAGS

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self._hidden = None
        self._code -= tag in CODE_TAGS

    def handle_endtag(self, tag):
        if tag == self._hidden:
            self._hidden = None
        if tag in CODE_TAGS and self._code:
            self._code -= 1

    def handle_data(self, data):
        if not self._hidden and not self._code:
            self._check(data, self.getpos()[0])


def _unmarked_in(text: str, html: bool) -> list[tuple[int, str]]:
    if not html:
        found = []
        for number, line in enumerate(text.splitlines(), 1):
            if [w for w in WORD.findall(line) if w not in ALLOWED_WORDS]:
                found.append((number, " ".join(line.split())[:100]))
        return found
    reader = _ReadText()
    reader.feed(text)
    reader.close()
    return reader.found


def unmarked_django(source: str, html: bool = True) -> list[tuple[int, str]]:
    text, arguments = _django_text(source)
    return sorted(_unmarked_in(text, html) + arguments)


def unmarked_jinja2(source: str) -> list[tuple[int, str]]:
    return sorted(_unmarked_in(_jinja2_text(source), html=True))


def _django_templates() -> list[Path]:
    return sorted(
        p for p in TEMPLATES.rglob("*") if p.suffix in (".html", ".txt") and JINJA2 not in p.parents and p.is_file()
    )


def test_every_django_template_marks_its_texts():
    files = _django_templates()
    assert len(files) > 80
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text}"
        for path in files
        for line, text in unmarked_django(path.read_text(), html=path.suffix == ".html")
    ]
    assert found == [], "\n".join(found)


def test_every_jinja2_partial_marks_its_texts():
    files = sorted(JINJA2.rglob("*.html"))
    assert len(files) >= 5
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text}" for path in files for line, text in unmarked_jinja2(path.read_text())
    ]
    assert found == [], "\n".join(found)


@pytest.mark.parametrize(
    "source",
    [
        "<p>Open alerts</p>",
        "{% load i18n %}<h1>{% translate 'Alerts' %} today</h1>",
        '<span title="Entered afterwards">x</span>',
        '<nav aria-label="Pages"></nav>',
        '<img alt="QR code" src="x">',
        '<input name="q" placeholder="Search">',
        "<p>{{ url }}: <code>{{ url }}</code> one</p>",
        '<input type="submit" value="Save">',
        '<a data-confirm="Cancel this session?" href="#">{% translate "Cancel" %}</a>',
        "<td>{{ n }} rows</td>",
        '{{ clinic_name|default:"the clinic" }}',
        '{{ done|yesno:"Yes,No" }}',
        "{% if a %}<b>{{ a }}</b>{% else %}nothing{% endif %}",
        "<svg><title>Scores</title></svg>",
    ],
)
def test_the_check_sees_an_unmarked_text(source):
    assert unmarked_django(source)


@pytest.mark.parametrize(
    "source",
    [
        "{% load i18n %}<p>{% translate 'Open alerts' %}</p>",
        "{% load i18n %}<p>{% blocktranslate with n=rows %}{{ n }} rows{% endblocktranslate %}</p>",
        '{% load i18n %}<span title="{% translate "Entered afterwards" %}">{{ x }}</span>',
        '<div class="d-flex gap-2" id="board" hx-get="/board/" aria-live="polite">{{ a }} · {{ b }}%</div>',
        "<script>var text = 'not for people';</script><style>.a { color: red; }</style>",
        "<!-- a note for developers --><!doctype html>",
        "{# a note #}{% comment %}A longer note.{% endcomment %}",
        '<input type="hidden" name="next" value="back"><input type="text" value="{{ v }}">',
        '<input{% if x %} checked{% endif %} type="checkbox">',
        '<button name="action" value="confirm">{% translate "Book" %}</button>',
        "<p><code>Authorization: Bearer {{ secret }}</code></p>",
        '{{ at|when:"day_time" }} {{ n|floatformat:"-1" }} {{ items|join:"; " }} {{ v|default:_("none") }}',
    ],
)
def test_the_check_lets_marked_texts_and_markup_be(source):
    assert unmarked_django(source) == []


def test_a_text_template_is_read_as_text():
    assert unmarked_django("Your appointment <b>is</b> on {{ day }}", html=False)
    assert unmarked_django("{% load i18n %}{% translate 'Reply C to confirm' %} {{ link }}", html=False) == []


@pytest.mark.parametrize(
    "source",
    [
        "<td>Nothing</td>",
        '<td title="Chair">{{ x }}</td>',
        '{{ name or "nobody" }}',
        "<p>{{ _('Time') }} left</p>",
    ],
)
def test_the_jinja2_check_sees_an_unmarked_text(source):
    assert unmarked_jinja2(source)


@pytest.mark.parametrize(
    "source",
    [
        "<td>{{ _('Nothing') }}</td>",
        '<td data-label="{{ _("Chair") }}" class="{{ \'week\' if week else \'day\' }}">{{ x }}</td>',
        '{{ when(at, "time", tz) }} {{ name or "—" }}',
        "{#- A note\n  on two lines. -#}<td>{{ _('%(n)s min', n=m) }}</td>",
        "{% trans %}Ready{% endtrans %}",
    ],
)
def test_the_jinja2_check_lets_marked_texts_be(source):
    assert unmarked_jinja2(source) == []


def test_the_lines_named_are_the_lines_of_the_template():
    assert unmarked_django("{% load i18n %}\n<p>\n{% translate 'A' %}\n  Unmarked\n</p>") == [(4, "Unmarked")]
    assert unmarked_jinja2("{#- a\nnote -#}\n<p>{{ _('A') }}</p>\n<p>Unmarked</p>") == [(4, "Unmarked")]


# --- What the clinic's staff and patients see in Spanish ---------------------------------------

SPANISH = {
    # Sentences of the pages with their values, and the model's words they show.
    "MRN %(mrn)s": "NHC %(mrn)s",
    "Female": "Mujer",
    "Yes": "Sí",
    "Contraindication: %(name)s": "Contraindicación: %(name)s",
    "history of intracerebral haemorrhage": "antecedentes de hemorragia intracerebral",
    # The registration form: a label, a fieldset, a field named by the model, a note.
    "First name": "Nombre",
    "Identity": "Identidad",
    "hypersensitivity to (es)ketamine": "hipersensibilidad a la (es)ketamina",
    "Contraindications (any one blocks treatment)": "Contraindicaciones (cualquiera impide el tratamiento)",
    # Attributes people read.
    "QR code to add this account to an authenticator app": "Código QR para añadir la cuenta a la aplicación",
    "breadcrumb": "ruta",
    # E-mail.
    "%(site_name)s: set your staff password": "%(site_name)s: elija su contraseña",
    # Messages and refusals.
    "You were signed out after a period of inactivity. Please sign in again.": "Se cerró su sesión por inactividad.",
    "The file is not UTF-8 text: save it from the spreadsheet as “CSV UTF-8”.": "El archivo no es texto UTF-8.",
    # The audit report's words.
    "%(field)s: %(new)s (was %(old)s)": "%(field)s: %(new)s (antes: %(old)s)",
    "opted out of reminders": "sin recordatorios",
    "yes": "sí",
    "no": "no",
    "Update": "Modificación",
    "Alert acknowledged at %(when)s": "Alerta reconocida: %(when)s",
    # A count, and a status.
    (
        "Files you asked for from the audit trail and the compliance report. A worker writes each file in the "
        "background; it can be downloaded for %(hours)s hour and is then removed.\0"
        "Files you asked for from the audit trail and the compliance report. A worker writes each file in the "
        "background; it can be downloaded for %(hours)s hours and is then removed."
    ): "Se puede descargar durante %(hours)s hora.\0Se puede descargar durante %(hours)s horas.",
    "Queued": "En cola",
}


@pytest.fixture
def in_spanish(settings, tmp_path):
    with speaking_spanish(settings, tmp_path, SPANISH):
        yield


@pytest.mark.django_db
def test_the_patients_page_and_form_speak_spanish(in_spanish, client_for, administrator, site):
    patient = factories.make_patient(site=site, intracerebral_haemorrhage=True)
    factories.make_escort(patient, is_emergency_contact=True)
    page = client_for(administrator).get(reverse("clinic:patient-detail", args=[patient.pk])).content.decode()
    assert f"NHC {patient.mrn} · " in page
    assert " · Mujer</div>" in page
    assert "<li>Contraindicación: antecedentes de hemorragia intracerebral</li>" in page
    assert "<td>Sí</td>" in page
    form = client_for(administrator).get(reverse("clinic:patient-edit", args=[patient.pk])).content.decode()
    assert "Nombre<span" in form and "Identidad" in form
    assert "Hipersensibilidad a la (es)ketamina" in form
    assert '<p class="text-muted small mb-1">Contraindicaciones (cualquiera impide el tratamiento)</p>' in form
    assert "First name" not in form and "Identity" not in form


@pytest.mark.django_db
def test_the_attributes_people_read_speak_spanish(in_spanish, client_for, administrator):
    setup = client_for(administrator).get(reverse("second-factor-setup")).content.decode()
    assert 'alt="Código QR para añadir la cuenta a la aplicación"' in setup
    lockouts = client_for(administrator).get(reverse("clinic:audit-lockouts")).content.decode()
    assert '<nav aria-label="ruta">' in lockouts


@pytest.mark.django_db
def test_the_password_mail_and_the_sign_out_message_speak_spanish(in_spanish, client, nurse, mailoutbox):
    nurse.email = "nora@clinic.example"
    nurse.save()
    client.post(reverse("password_reset"), {"email": "nora@clinic.example"})
    assert [mail.subject for mail in mailoutbox] == ["testserver: elija su contraseña"]
    client.force_login(nurse)
    session = client.session
    session["last_activity"] = 0
    session.save()
    page = client.get(reverse("clinic:alerts"), follow=True).content.decode()
    assert "Se cerró su sesión por inactividad." in page


@pytest.mark.django_db
def test_a_refused_import_file_is_explained_in_spanish(in_spanish, client_for, administrator):
    upload = SimpleUploadedFile("patients.csv", "mrn,apellido\nMRN1,Peña\n".encode("latin-1"), "text/csv")
    page = client_for(administrator).post(reverse("clinic:patient-import"), {"file": upload, "mode": "check"})
    assert "El archivo no es texto UTF-8." in page.content.decode()


@pytest.mark.django_db
def test_the_audit_report_says_what_happened_in_spanish(in_spanish, client_for, administrator, nurse, patient):
    audit_record(
        action=AuditAction.UPDATE,
        user=nurse,
        obj=patient,
        summary={"changes": {"reminder_opt_out": [False, True]}},
    )
    alert, _ = alert_raise(kind="test", dedupe_key="test:1", message="Check chair 2", audience="administrator")
    alert_acknowledge(alert=alert, user=administrator)
    page = client_for(administrator).get(reverse("clinic:audit")).content.decode()
    assert '<span class="d-block">Sin recordatorios: sí (antes: no)</span>' in page
    assert '<span class="d-block">Alerta reconocida: ' in page
    assert '<span class="badge text-bg-light border">Modificación</span>' in page


@pytest.mark.django_db
def test_the_exports_page_counts_hours_and_names_a_status_in_spanish(in_spanish, client_for, administrator):
    ExportJob.objects.create(kind="audit", label="Audit trail", requested_by=administrator)
    page = client_for(administrator).get(reverse("clinic:exports")).content.decode()
    assert f"<p>Se puede descargar durante {settings.EXPORT_KEEP_HOURS} horas.</p>" in page
    assert "<td>En cola</td>" in page


def test_without_a_catalog_the_pages_read_as_before(settings):
    settings.LANGUAGE_CODE = "en-us"
    with translation.override("en-us"):
        html = render_to_string("registration/login.html", {"form": None, "clinic_name": ""})
    assert "Staff of the clinic. Use your own account." in html


# --- Words that cannot be left unmarked ---------------------------------------------------------


def _clinic_models():
    return list(apps.get_app_config("clinic").get_models())


def test_every_choice_label_of_the_clinics_records_is_translated_where_shown():
    labels = [
        (model.__name__, field.name, label)
        for model in _clinic_models()
        for field in model._meta.get_fields()
        if getattr(field, "choices", None)
        for _, label in field.flatchoices
    ]
    assert len(labels) > 30
    assert [entry for entry in labels if not isinstance(entry[2], Promise)] == []


def test_every_name_the_clinics_records_give_is_translated_where_shown():
    """A verbose name written in the model (not the one Django derives from the field's name,
    which only a migration could change), a help text, a Meta name, the app's name."""
    unmarked = []
    for model in _clinic_models():
        for field in model._meta.get_fields():
            if field.auto_created or not field.concrete:
                continue
            derived = field.name.replace("_", " ")
            if field.verbose_name != derived and not isinstance(field.verbose_name, Promise):
                unmarked.append((model.__name__, field.name, field.verbose_name))
            if field.help_text and not isinstance(field.help_text, Promise):
                unmarked.append((model.__name__, field.name, field.help_text))
        for option in ("verbose_name", "verbose_name_plural"):
            if option in model._meta.original_attrs and not isinstance(getattr(model._meta, option), Promise):
                unmarked.append((model.__name__, option, getattr(model._meta, option)))
    assert isinstance(apps.get_app_config("clinic").verbose_name, Promise)
    assert unmarked == []


# Forms never drawn as forms: the lockouts page posts its user name from a hidden input.
NOT_DRAWN_FORMS = {"LockoutUnlockForm"}
FORM_MODULES = ("clinic.forms", "clinic.forms_account", "clinic.forms_audit", "clinic.forms_integrations")


def _clinic_forms():
    modules = [importlib.import_module(name) for name in (*FORM_MODULES, "clinic.views_import", "clinic.imports")]
    return [
        cls
        for module in modules
        for name, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, forms.BaseForm) and cls.__module__ == module.__name__ and name not in NOT_DRAWN_FORMS
    ]


def test_every_label_help_text_and_choice_of_the_clinics_forms_is_translated():
    found = _clinic_forms()
    assert {"PatientForm", "EscortContactForm", "AuditFilterForm", "ImportForm", "IntegrationTokenForm"} <= {
        cls.__name__ for cls in found
    }
    unmarked = []
    for cls in found:
        for name, field in cls.base_fields.items():
            texts = [field.label, field.help_text or None]
            if isinstance(field, forms.ChoiceField) and not isinstance(field, forms.ModelChoiceField):
                texts += [label for _, label in field.choices if WORD.search(str(label))]
            unmarked += [
                (cls.__name__, name, text) for text in texts if text is not None and not isinstance(text, Promise)
            ]
            if field.label is None:
                unmarked.append((cls.__name__, name, "no label: the page would show the field's name"))
    assert unmarked == []
