"""The session day's texts built in Python follow the clinic's language: with a small Spanish
catalog (compiled at test time, as tests/clinic/test_translation.py does), the REMS record and
its PDF, the staff alerts, the audit report's sentences, the form refusals, the dose rules, the
model's choices and the questionnaire come out in Spanish where they are shown, while what is
stored or sent to other systems keeps its English key (an addendum's field, the FHIR export).
The last tests fail when a text of monitoring/ is left unmarked where that can be checked
mechanically: choices, verbose names, help texts, form labels, the instruments' wording and the
REMS record's labels."""

import datetime as dt
import io
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import time_machine
from django import forms as django_forms
from django.apps import apps
from django.conf import settings
from django.urls import reverse
from django.utils.functional import Promise
from pypdf import PdfReader

from clinic.audit_words import describe
from clinic.models import StaffAlert
from monitoring import forms as monitoring_forms
from monitoring import forms_outcomes, instruments, rems_pdf, rules, rules_outcomes, selectors
from monitoring.day import late_entries, load_day, rems_sessions
from monitoring.models import Addendum, AdverseEvent, CheckIn, Discharge
from monitoring.reports import report_table
from monitoring.tasks import alerts_scan
from monitoring.views_rems_pdf import PeriodForm
from monitoring.views_reports import ReportFilterForm
from tests.clinic.test_translation import _msgids, speaking_spanish
from tests.monitoring.conftest import DAY_START

pytestmark = pytest.mark.django_db

DOSED = DAY_START + dt.timedelta(minutes=10)
NEXT_DAY = DAY_START + dt.timedelta(days=1)
READY = "Minutes until the patient would have been ready to leave"
PLURAL = "\x00"  # a plural entry of a .mo file: "singular\0plural" -> "form 0\0form 1"

CATALOG = {
    # The REMS record: sections, labels, values, late entries, the addendum.
    "Treatment": "Tratamiento",
    "Dose": "Dosis",
    "Vital signs in range before discharge": "Constantes en rango antes del alta",
    "Yes": "Sí",
    "No": "No",
    "None": "Ninguno",
    "Serious adverse events": "Acontecimientos adversos graves",
    "Arrival at %(time)s (entered %(entered)s)": "Llegada a las %(time)s (anotada a las %(entered)s)",
    READY: "Minutos hasta que el paciente habría podido irse",
    "Addendum recorded: %(field)s.": "Anotación registrada: %(field)s.",
    # The PDF.
    "1. Patient information": "1. Datos del paciente",
    "REMS Patient Monitoring Form": "Formulario REMS de seguimiento del paciente",
    "Not submitted": "No enviado",
    # Staff alerts.
    "%(minutes)s-minute check": "control de %(minutes)s minutos",
    "%(checkpoint)s overdue (due %(time)s): %(patient)s, %(chair)s": (
        "%(checkpoint)s atrasado (previsto a las %(time)s): %(patient)s, %(chair)s"
    ),
    "REMS monitoring record for %(patient)s (%(day)s) due in %(days)s day"
    + PLURAL
    + "REMS monitoring record for %(patient)s (%(day)s) due in %(days)s days": (
        "Registro REMS de %(patient)s (%(day)s): vence en %(days)s día"
        + PLURAL
        + "Registro REMS de %(patient)s (%(day)s): vence en %(days)s días"
    ),
    # The audit report and a model's choices.
    "Dosing stopped early after %(given)s of %(planned)s devices because of %(cause)s": (
        "Dosis interrumpida tras %(given)s de %(planned)s dispositivos por %(cause)s"
    ),
    "the patient's refusal": "la negativa del paciente",
    "Sedation": "Sedación",
    "Mild": "Leve",
    "Kind": "Tipo",
    # Form refusals and dose rules.
    "%(field)s must be between %(low)s and %(high)s.": "%(field)s debe estar entre %(low)s y %(high)s.",
    "Heart rate": "Frecuencia cardiaca",
    "This protocol allows %(doses)s mg.": "Este protocolo permite %(doses)s mg.",
    "%(first)s or %(second)s": "%(first)s o %(second)s",
    # Outcomes.
    "Little interest or pleasure in doing things": "Poco interés o placer en hacer cosas",
    "Not at all": "Nunca",
    "Response at week %(week)s: %(scale)s %(baseline)s -> %(current)s, %(change)s%%": (
        "Respuesta en la semana %(week)s: %(scale)s %(baseline)s -> %(current)s, %(change)s%%"
    ),
    # What the FHIR export must not take.
    "Pre-dose": "Previa a la dosis",
}


@pytest.fixture
def spanish(settings, tmp_path):
    with speaking_spanish(settings, tmp_path, CATALOG):
        yield


@pytest.fixture
def discharged(session, run_to_discharge):
    return run_to_discharge(session, dosed_at=DOSED)


def _page(client, name, session) -> str:
    with time_machine.travel(NEXT_DAY, tick=False):
        response = client.get(reverse(f"monitoring:{name}", args=[session.pk]))
    assert response.status_code == 200
    return response.content.decode()


# --- Shown in Spanish ------------------------------------------------------------------------


def test_the_rems_record_page_speaks_the_clinics_language(spanish, client_for, administrator, discharged):
    CheckIn.objects.filter(session=discharged).update(arrival_late_entry=True)
    page = _page(client_for(administrator), "rems-record", discharged)
    assert '<h2 class="h5 mt-3">Tratamiento</h2>' in page
    assert '<th scope="row" class="w-50">Constantes en rango antes del alta</th><td>Sí</td>' in page
    assert '<th scope="row" class="w-50">Acontecimientos adversos graves</th><td>Ninguno</td>' in page
    assert "Llegada a las 09:02 (anotada a las 09:02)" in page
    assert "Vital signs in range before discharge" not in page


def test_a_late_entry_line_of_the_record_is_a_whole_sentence(spanish, discharged):
    CheckIn.objects.filter(session=discharged).update(arrival_late_entry=True)
    with time_machine.travel(NEXT_DAY, tick=False):
        day = load_day(discharged.pk, sessions=rems_sessions())
    assert late_entries(day) == ["Llegada a las 09:02 (anotada a las 09:02)"]


def test_an_addendum_names_its_field_in_english_and_completes_the_spanish_record(
    spanish, client_for, administrator, discharged
):
    Discharge.objects.filter(observation__session=discharged).update(would_have_been_ready_at=None)
    client = client_for(administrator)
    page = _page(client, "rems-record", discharged)
    assert f'<option value="{READY}">Minutos hasta que el paciente habría podido irse</option>' in page
    with time_machine.travel(NEXT_DAY, tick=False):
        response = client.post(
            reverse("monitoring:rems-addendum", args=[discharged.pk]),
            {"field": READY, "value": "95", "reason": "Read from the paper chart"},
            follow=True,
        )
    assert "Anotación registrada: Minutos hasta que el paciente habría podido irse." in response.content.decode()
    assert Addendum.objects.get(session=discharged).field == READY  # the key, whatever the language
    record = response.context["record"]
    assert record.complete
    assert next(f for f in record.fields if f.key == READY).label == CATALOG[READY]
    # The addenda list names the field in the clinic's language too.
    assert f"<strong>{CATALOG[READY]}: 95</strong>" in response.content.decode()


def test_a_yes_or_no_field_takes_the_clinics_words(spanish):
    assert rules.rems_addendum_error("Sedation", "Sí", total_minutes=None) is None
    assert rules.rems_addendum_error("Sedation", "Yes", total_minutes=None) is None
    assert rules.rems_addendum_error("Sedation", "Quizá", total_minutes=None)[0] == "yes_no"


def test_the_rems_pdf_is_printed_in_the_clinics_language(spanish, client_for, administrator, discharged):
    with time_machine.travel(NEXT_DAY, tick=False):
        response = client_for(administrator).get(reverse("monitoring:rems-pdf", args=[discharged.pk]))
    assert response.status_code == 200
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert "Formulario REMS de seguimiento del paciente" in text
    assert "1. Datos del paciente" in text and "No enviado" in text
    assert "Constantes en rango antes del alta" in text
    assert "Patient information" not in text


def test_a_staff_alert_is_written_in_the_clinics_language(spanish, session, run_to_observation):
    run_to_observation(session, dosed_at=DOSED)
    with time_machine.travel(DOSED + dt.timedelta(minutes=50), tick=False):
        alerts_scan()
    alert = StaffAlert.objects.get(kind="checkpoint_overdue")
    assert alert.message.startswith("control de 40 minutos atrasado (previsto a las 09:50): ")


def test_the_rems_reminder_counts_its_days_in_the_clinics_language(spanish, discharged):
    with time_machine.travel(DAY_START + dt.timedelta(days=5), tick=False):
        alerts_scan()
    message = StaffAlert.objects.get(kind="rems_due").message
    assert message.startswith("Registro REMS de ") and message.endswith(": vence en 2 días")


def test_the_audit_report_says_what_a_dose_row_did_in_the_clinics_language(spanish):
    event = SimpleNamespace(
        action="update",
        object_type="doserecord",
        object_id="7",
        summary={"changes": {"stopped_cause": ["", "refusal"]}, "devices_given": 1, "devices_planned": 2},
    )
    assert describe(event) == ["Dosis interrumpida tras 1 de 2 dispositivos por la negativa del paciente"]


def test_a_form_refusal_and_a_dose_rule_are_in_the_clinics_language(spanish):
    form = monitoring_forms.VitalsForm(
        {"checkpoint": "extra", "systolic": 120, "diastolic": 80, "heart_rate": 400, "spo2": 98}
        | {"respiratory_rate": 14, "moaas": 5}
    )
    assert not form.is_valid()
    assert form.errors["heart_rate"] == ["Frecuencia cardiaca debe estar entre 20 y 250."]
    errors = rules.dose_errors(
        esketamine=True,
        dose_mg=70,
        plan=rules.DosePlan(allowed_doses_mg=(56, 84, 112)),
        first_of_course=False,
        first_dose_overridden=False,
    )
    assert errors["dose_mg"] == ("not_allowed", "Este protocolo permite 56 o 84 o 112 mg.")


def test_the_models_choices_are_shown_in_the_clinics_language(spanish, site):
    assert ("sedation", "Sedación") in monitoring_forms.AdverseEventForm().fields["kind"].choices
    assert str(monitoring_forms.AdverseEventForm()["kind"].label) == "Tipo"
    table = report_table(
        site=site, date_from=dt.date(2026, 11, 1), date_to=dt.date(2026, 11, 30), slug="adverse-events"
    )
    assert table.columns[:2] == ["Tipo", "Leve"]
    assert table.rows[0][0] == "Sedación"


def test_the_questionnaire_and_the_outcome_words_are_in_the_clinics_language(spanish):
    form = forms_outcomes.InstrumentForm(instrument=instruments.get(instruments.PHQ9))
    assert form.fields["item_1"].label == "1. Poco interés o placer en hacer cosas"
    assert form.fields["item_1"].choices[0] == (0, "Nunca")
    madrs = instruments.get(instruments.MADRS)
    assert rules_outcomes.status_words(madrs, 34, 15, 4) == "Respuesta en la semana 4: MADRS 34 -> 15, -56%"


def test_the_fhir_export_stays_english(spanish, client_for, administrator, session, run_to_observation):
    run_to_observation(session, dosed_at=DOSED)
    with time_machine.travel(DOSED + dt.timedelta(minutes=1), tick=False):
        response = client_for(administrator).get("/fhir/Observation", {"patient": session.patient_id})
    assert response.status_code == 200
    panels = [e["resource"] for e in response.json()["entry"] if e["resource"]["id"].startswith("vitals-")]
    assert [p["code"]["text"] for p in panels] == ["Pre-dose"]


# --- Left unmarked nowhere (checked mechanically) --------------------------------------------

# The scales' names (PHQ-9, GAD-7, MADRS) are the same in every language; a dose's drug takes the
# scheduling app's choices (marked there).
NOT_OURS = {
    ("monitoring.outcomescore", "instrument"),
    ("monitoring.outcomeplan", "clinician_instrument"),
    ("monitoring.doserecord", "drug"),
}


def test_every_choice_verbose_name_and_help_text_of_the_monitoring_models_is_marked():
    config = apps.get_app_config("monitoring")
    assert isinstance(config.verbose_name, Promise)
    unmarked = []
    for model in config.get_models():
        meta = model._meta
        for name in ("verbose_name", "verbose_name_plural"):
            if name in meta.original_attrs and not isinstance(getattr(meta, name), Promise):
                unmarked.append(f"{meta.label}.Meta.{name}")
        for field in meta.get_fields():
            if not hasattr(field, "verbose_name") or field.auto_created:
                continue  # a reverse relation, the primary key
            where = f"{meta.label_lower}.{field.name}"
            if field.choices and (meta.label_lower, field.name) not in NOT_OURS:
                unmarked += [f"{where}: {label}" for _, label in field.flatchoices if not isinstance(label, Promise)]
            if field.verbose_name != field.name.replace("_", " ") and not isinstance(field.verbose_name, Promise):
                unmarked.append(f"{where} verbose_name")
            if field.help_text and not isinstance(field.help_text, Promise):
                unmarked.append(f"{where} help_text")
    assert not unmarked, unmarked


FORMS = [
    *(
        cls
        for module in (monitoring_forms, forms_outcomes)
        for cls in vars(module).values()
        if isinstance(cls, type) and issubclass(cls, django_forms.BaseForm) and cls.__module__ == module.__name__
    ),
    ReportFilterForm,
    PeriodForm,
]


@pytest.mark.parametrize("form", FORMS, ids=lambda form: form.__name__)
def test_every_label_help_text_and_error_of_the_monitoring_forms_is_marked(form):
    unmarked = []
    for name, field in form.base_fields.items():
        if field.label is not None and not isinstance(field.label, Promise):
            unmarked.append(f"{name} label")
        if field.help_text and not isinstance(field.help_text, Promise):
            unmarked.append(f"{name} help_text")
        empty = getattr(field, "empty_label", None)
        if empty and empty != "---------" and not isinstance(empty, Promise):  # Django's own dashes aside
            unmarked.append(f"{name} empty_label")
    for code, message in getattr(form, "error_messages", {}).items():
        if not isinstance(message, Promise):
            unmarked.append(f"error {code}")
    assert not unmarked, unmarked


def test_every_word_of_the_instruments_is_marked():
    unmarked = []
    for instrument in instruments.INSTRUMENTS.values():
        texts = [instrument.stem, *(item.text for item in instrument.items), *(b.label for b in instrument.bands)]
        texts += [o.label for o in (*instrument.options, *instrument.functional_options) if not o.label.isdigit()]
        if instrument.functional_question:
            texts.append(instrument.functional_question)
        unmarked += [f"{instrument.name}: {text}" for text in texts if not isinstance(text, Promise)]
    assert not unmarked, unmarked


def test_every_label_and_section_of_the_rems_record_is_in_the_committed_catalog(discharged):
    """A label added to the record without gettext_noop never reaches the catalog a clinic
    translates. The concomitant medicines are the patient record's own field names."""
    catalog = _msgids((Path(settings.BASE_DIR) / "locale" / "es" / "LC_MESSAGES" / "django.po").read_text())
    with time_machine.travel(NEXT_DAY, tick=False):
        record = selectors.rems_record(selectors.rems_session(discharged.pk))
    keys = {re.sub(r"^BP at \d+ minutes$", "BP at %(minutes)s minutes", f.key) for f in record.fields}
    keys -= {f.key for f in record.fields if f.section == "Concomitant medicines"}
    sections = {section for section, _ in record.sections_by_key()}
    titles = set(rems_pdf.SECTION_TITLES.values())
    missing = sorted((keys | sections | titles | {rems_pdf.MISSING}) - catalog)
    assert not missing, missing
    assert {str(label) for label in AdverseEvent.Kind.labels} <= catalog
