"""Texts marked for translation are translated when the clinic's catalog has them: a tiny catalog
is compiled at test time (no gettext needed) into a folder of LOCALE_PATHS, and the pages, forms,
reminders and the named date styles follow LANGUAGE_CODE. The committed catalog holds the marked
texts a clinic translates."""

import contextlib
import datetime as dt
import os
import re
import shutil
import struct
import subprocess
import sys
import zoneinfo
from pathlib import Path
from types import SimpleNamespace

import pytest
import time_machine
from django.conf import settings
from django.core.exceptions import ValidationError
from django.template import engines
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from clinic import formats, registry, rules
from clinic.jinja2 import choice_labels
from monitoring import reports as monitoring_reports
from monitoring import rules as monitoring_rules
from monitoring import services as monitoring_services
from monitoring.forms import CheckInForm
from monitoring.models import CheckIn
from scheduling import rules as scheduling_rules
from scheduling import services as booking
from scheduling.models import SessionStatus
from tests import factories

CATALOG = {
    "Sign in": "Iniciar sesión",
    "Your appointment at %(clinic_name)s on %(day)s": "Su cita en %(clinic_name)s el %(day)s",
    "Arrival time": "Hora de llegada",
    "Day": "Día",
    "%(title)s chart": "Gráfico: %(title)s",
    "The clinic is not open on %(weekday)s.": "La clínica no abre el %(weekday)s.",
    "An MRN is 6 to 12 capital letters or digits, e.g. MRN004512.": "Un NHC: de 6 a 12 letras o cifras.",
    "No pre-dose vitals recorded yet": "Aún no hay constantes previas a la dosis",
    "Arrived %(time)s": "Llegó a las %(time)s",
    "ride not confirmed": "transporte sin confirmar",
    "Low SpO2": "SpO2 baja",
    "In observation": "En observación",
    "HR": "FC",
    "Dosing has not started: observation has not begun": "La dosis no ha empezado",
    "No-show rate": "Ausencias",
    "No-shows": "No acudieron",
    "%(time)s does not exist on %(day)s: the clocks go forward %(jump)s that night. Choose another time.": (
        "Las %(time)s no existen el %(day)s: se adelanta %(jump)s."
    ),
    "1 hour": "1 hora",
    "ride home confirmed": "transporte de vuelta confirmado",
}


def _write_mo(path: Path, messages: dict[str, str]) -> None:
    """A GNU .mo file (what msgfmt writes) holding ``messages``."""
    entries = {"": "Content-Type: text/plain; charset=UTF-8\n", **messages}
    keys = sorted(entries)
    ids = b"".join(k.encode() + b"\0" for k in keys)
    strs = b"".join(entries[k].encode() + b"\0" for k in keys)
    start = 7 * 4 + 16 * len(keys)
    offsets, id_at, str_at = [], 0, 0
    for k in keys:
        offsets.append((len(k.encode()), start + id_at, len(entries[k].encode()), start + len(ids) + str_at))
        id_at += len(k.encode()) + 1
        str_at += len(entries[k].encode()) + 1
    header = struct.pack("<7I", 0x950412DE, 0, len(keys), 7 * 4, 7 * 4 + 8 * len(keys), 0, 0)
    table_ids = b"".join(struct.pack("<2I", n, at) for n, at, _, _ in offsets)
    table_strs = b"".join(struct.pack("<2I", n, at) for _, _, n, at in offsets)
    path.parent.mkdir(parents=True)
    path.write_bytes(header + table_ids + table_strs + ids + strs)


@contextlib.contextmanager
def speaking_spanish(settings, tmp_path: Path, messages: dict[str, str]):
    """The clinic set to Spanish with a catalog of ``messages`` compiled under ``tmp_path``."""
    _write_mo(tmp_path / "es" / "LC_MESSAGES" / "django.mo", messages)
    settings.LOCALE_PATHS = [tmp_path]
    settings.LANGUAGE_CODE = "es"
    with translation.override("es"):
        yield


@pytest.fixture
def spanish(settings, tmp_path):
    with speaking_spanish(settings, tmp_path, CATALOG):
        yield


@pytest.mark.django_db
def test_a_page_speaks_the_clinics_language(spanish, client):
    page = client.get(reverse("login"))
    assert '<h1 class="h3 mb-3">Iniciar sesión</h1>' in page.content.decode()
    assert '<html lang="es">' in page.content.decode()


def test_a_reminder_and_its_date_are_translated(spanish):
    day = formats.when(dt.date(2026, 12, 3), "long_day")
    subject = render_to_string("emails/reminder_subject.txt", {"clinic_name": "Riverside", "day": day})
    assert subject.strip() == "Su cita en Riverside el jueves 3 diciembre"


def test_form_labels_and_navigation_are_translated(spanish):
    assert str(CheckInForm()["arrived_at"].label) == "Hora de llegada"
    assert "Día" in {str(entry.label) for entry in registry.nav_entries()}


def test_a_jinja2_partial_is_translated_and_still_escapes_its_values(spanish):
    chart = {"width": 10, "height": 10, "bars": []}
    html = engines["jinja2"].get_template("monitoring/report_chart.html").render({"chart": chart, "title": "<Dosis>"})
    assert 'aria-label="Gráfico: &lt;Dosis&gt;"' in html


def test_a_service_refusal_and_a_rule_message_are_translated(spanish):
    assert booking._error("closed_day", weekday="lunes").messages == ["La clínica no abre el lunes."]
    with pytest.raises(ValidationError) as refused:
        rules.validate_mrn("x")
    assert refused.value.messages == ["Un NHC: de 6 a 12 letras o cifras."]


@pytest.mark.django_db
def test_the_session_day_speaks_the_clinics_language(spanish, client_for, nurse, administrator, patient, site):
    """A dosing-block reason built by monitoring.rules and a step line with a value."""
    start = dt.datetime(2026, 11, 17, 9, 0, tzinfo=zoneinfo.ZoneInfo(site.time_zone))
    course = factories.make_course(patient, administrator, start_date=start.date())
    session = factories.make_session(patient, site, start, course=course, sync=False)
    with time_machine.travel(start + dt.timedelta(minutes=5), tick=False):
        monitoring_services.session_check_in(
            session=session, user=nurse, checklist=dict.fromkeys(CheckIn.CHECKLIST, True)
        )
        page = client_for(nurse).get(reverse("monitoring:session-day", kwargs={"pk": session.pk})).content.decode()
    assert "<li>Aún no hay constantes previas a la dosis</li>" in page
    assert "Llegó a las 09:05 · " in page
    assert "· transporte sin confirmar" in page
    assert "No pre-dose vitals recorded yet" not in page


def test_a_reading_flag_and_the_boards_vital_names_are_translated_where_shown(spanish):
    """A reading stores its flags in English; the session day and the board show them translated."""
    flags = [{"code": "low_spo2", "label": "Low SpO2", "severity": "warning"}]
    assert render_to_string("monitoring/reading_flags.html", {"flags": flags}).strip() == (
        '<span class="badge flag flag-warning">SpO2 baja</span>'
    )
    start = dt.datetime(2026, 11, 17, 9, 0, tzinfo=dt.UTC)
    session = SimpleNamespace(
        pk=1,
        status="in_observation",
        start=start,
        chair=SimpleNamespace(name="Chair 1"),
        patient=SimpleNamespace(full_name="Pat Example"),
    )
    reading = SimpleNamespace(systolic=120, diastolic=80, heart_rate=72, spo2=93, respiratory_rate=14, moaas=5)
    reading.flags = flags
    day = SimpleNamespace(
        session=session,
        latest_reading=reading,
        in_observation=False,
        board_gate=None,
        dosing_blocked=False,
        next_device_at=None,
        overdue=False,
    )
    html = (
        engines["jinja2"]
        .get_template("monitoring/_board_rows.html")
        .render(
            {
                "days": [day],
                "tz": dt.UTC,
                "day_url": lambda pk: f"/day/{pk}/",
                "status_labels": choice_labels(SessionStatus.choices),
            }
        )
    )
    assert "· FC 72 ·" in html
    assert ">En observación<" in html
    assert '<span class="badge flag flag-warning">SpO2 baja</span>' in html


def test_a_checklist_item_is_translated_in_a_dosing_block(spanish):
    checkin = CheckIn(**{**dict.fromkeys(CheckIn.CHECKLIST, True), "transport_confirmed": False})
    assert checkin.checklist_missing() == ["transporte de vuelta confirmado"]


def test_a_discharge_gate_reason_is_translated(spanish):
    gate = monitoring_rules.discharge_gate(
        started_at=None,
        now=dt.datetime(2026, 11, 17, 9, 0, tzinfo=dt.UTC),
        discharge_reading_flags=None,
        vitals_overridden=False,
        readiness={},
        pickup_name="",
        tzinfo=dt.UTC,
    )
    assert gate.missing == ("La dosis no ha empezado",)


@pytest.mark.django_db
def test_a_report_table_title_and_column_are_translated(spanish, site):
    table = monitoring_reports.report_table(
        site=site, date_from=dt.date(2026, 11, 1), date_to=dt.date(2026, 11, 30), slug="no-show-rate"
    )
    assert table.title == "Ausencias"
    assert table.columns[1] == "No acudieron"


def test_a_scheduling_rule_message_is_translated(spanish):
    problem = scheduling_rules.clock_problem(dt.date(2026, 3, 8), dt.time(2, 30), zoneinfo.ZoneInfo("America/New_York"))
    assert problem.startswith("Las 02:30 no existen el ")
    assert problem.endswith(": se adelanta 1 hora.")


def test_every_text_of_the_jinja2_partials_is_in_the_committed_catalog():
    """makemessages does not read Jinja2: each _() of templates/jinja2/ must also be in a Django
    template or in clinic.jinja2.JINJA2_ONLY_TEXTS, or the clinic could never translate it."""
    catalog = (Path(settings.BASE_DIR) / "locale" / "es" / "LC_MESSAGES" / "django.po").read_text()
    env = engines["jinja2"].env
    texts = set()
    for path in (Path(settings.BASE_DIR) / "templates" / "jinja2").rglob("*.html"):
        for _, _, message in env.extract_translations(path.read_text()):
            # _("%(title)s chart", title=t) comes out as ("%(title)s chart", None).
            texts |= {text for text in (message if isinstance(message, tuple) else (message,)) if text}
    assert {"Time", "Dosing blocked", "%(title)s chart", "Nothing in this period."} <= texts
    missing = sorted(texts - _msgids(catalog))
    assert not missing, missing


def _msgids(catalog: str) -> set[str]:
    """The msgids of a .po file, a long one joined from its lines."""
    found = re.finditer(r'^msgid ((?:".*"\n)+)', catalog, flags=re.M)
    return {"".join(re.findall(r'"(.*)"', m.group(1))).replace('\\"', '"') for m in found}


def test_without_a_catalog_the_texts_stay_english(settings):
    settings.LANGUAGE_CODE = "en-us"
    assert formats.when(dt.datetime(2026, 12, 3, 19, 5, tzinfo=dt.UTC), "day_time", zoneinfo.ZoneInfo("UTC")) == (
        "Thu 3 Dec 19:05"
    )
    assert "Sign in" in render_to_string("registration/login.html", {"form": None})
    assert booking._error("closed_day", weekday="Monday").messages == ["The clinic is not open on Monday."]


def test_the_committed_catalog_holds_the_marked_texts():
    catalog = (Path(settings.BASE_DIR) / "locale" / "es" / "LC_MESSAGES" / "django.po").read_text()
    for text in ("Sign out", "Your appointment at %(clinic_name)s on %(day)s", "Arrival time", "Day"):
        assert f'msgid "{text}"' in catalog, text


def test_an_unknown_language_stops_start_up():
    env = {**os.environ, "LANGUAGE_CODE": "klingon"}
    result = subprocess.run(
        [sys.executable, "-c", "import clinic.settings"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "LANGUAGE_CODE must be a language Django knows (en-us, es, fr...), not 'klingon'" in result.stderr


MAKEMESSAGES = [
    "makemessages",
    "-l",
    "es",
    "--no-location",
    *(f"--ignore={d}" for d in (".venv", "tests", "static", "var", "docs", "templates/jinja2", "deploy")),
]


@pytest.mark.skipif(not shutil.which("xgettext"), reason="GNU gettext is not installed (apt-get install gettext)")
def test_the_committed_catalog_is_what_makemessages_builds_today(tmp_path):
    """A text marked for translation but missing from locale/es (the catalog was not rebuilt) is
    a text no clinic can translate; makemessages must also run without a warning. Built on a
    copy of the code, so the committed catalog is left as it is."""
    root = Path(settings.BASE_DIR)
    for name in ("clinic", "scheduling", "monitoring", "templates", "locale"):
        shutil.copytree(root / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "jinja2"))
    shutil.copy(root / "manage.py", tmp_path / "manage.py")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "clinic.settings", "PYTHONPATH": str(tmp_path)}
    built = subprocess.run(
        [sys.executable, "manage.py", *MAKEMESSAGES], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert built.returncode == 0, built.stderr
    assert "warning" not in (built.stdout + built.stderr).lower(), built.stderr
    fresh = _msgids((tmp_path / "locale/es/LC_MESSAGES/django.po").read_text())
    committed = _msgids((root / "locale/es/LC_MESSAGES/django.po").read_text())
    assert sorted(fresh - committed) == [], "marked but not in the committed catalog: rebuild it (README, Language)"
    assert sorted(committed - fresh) == [], "in the committed catalog but no longer marked: rebuild it"
