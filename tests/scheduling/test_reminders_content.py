"""Reminder content is minimum-necessary: clinic name, day, time, confirm link, clinic phone.
Every template is rendered and checked for words that would disclose the treatment."""

import datetime as dt
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.template.loader import render_to_string

from clinic import formats
from scheduling.links import confirm_url
from scheduling.models import Reminder
from scheduling.reminders import SMS_MAX_CHARS, reminder_message
from tests.factories import make_session

pytestmark = pytest.mark.django_db

FORBIDDEN = re.compile(
    r"ketamin|spravato|esket|depress|suicid|psych|mental|infusion|nasal|spray|treatment|therapy|"
    r"\bdos(e|es|ing)\b|\bmg\b|\brems\b|medication|medicine|\bdrug|diagnos|sedat|dissociat|antidepress|\btrd\b",
    re.IGNORECASE,
)
TEMPLATES = sorted(p.name for p in (Path(settings.BASE_DIR) / "templates" / "emails").iterdir())


@pytest.fixture
def context():
    return {
        "clinic_name": settings.CLINIC_NAME,
        "clinic_phone": settings.CLINIC_PHONE,
        "day": "Wednesday 30 September",
        "day_short": "Wed 30 Sep",
        "time": "12:30 PM",
        "confirm_url": "https://book.riverside-clinic.org/c/f423f-AbCdEfGhIjKlMnOp/",
        "no_food_hours": 2,
        "no_drink_minutes": 30,
    }


def test_there_are_templates_to_check():
    assert {"reminder_sms.txt", "reminder_subject.txt", "morning_body.html"} <= set(TEMPLATES)


@pytest.mark.parametrize("name", TEMPLATES)
def test_no_template_names_the_drug_diagnosis_or_treatment(name, context):
    text = render_to_string(f"emails/{name}", context)
    assert not FORBIDDEN.search(text), FORBIDDEN.search(text)
    assert context["clinic_name"] in text
    if "subject" not in name:
        assert context["confirm_url"] in text
        assert formats.phone(context["clinic_phone"]) in text
    if not name.startswith("morning") or "subject" not in name:
        assert context["day"] in text or context["day_short"] in text or "today" in text.lower()


@pytest.mark.parametrize("name", ["reminder_sms.txt", "reminder_sms_short.txt", "morning_sms_short.txt"])
def test_sms_templates_fit_in_one_message_with_a_public_address(name, context):
    assert len(" ".join(render_to_string(f"emails/{name}", context).split())) <= SMS_MAX_CHARS


def test_the_longest_sms_fits_with_the_default_address(context):
    context["confirm_url"] = "http://127.0.0.1:8000/c/f423f-AbCdEfGhIjKlMnOp/"
    assert len(" ".join(render_to_string("emails/morning_sms.txt", context).split())) <= SMS_MAX_CHARS


@pytest.mark.parametrize("kind", ["72h", "24h", "morning"])
@pytest.mark.parametrize("channel", ["sms", "email"])
def test_rendered_reminders_carry_the_minimum(kind, channel, patient, site):
    session = make_session(patient, site, dt.datetime(2030, 9, 30, 16, 30, tzinfo=dt.UTC))
    reminder = Reminder.objects.get(session=session, kind=kind)
    message = reminder_message(reminder=reminder, channel=channel)
    everything = f"{message.subject}\n{message.body}\n{message.html_body}"
    assert not FORBIDDEN.search(everything)
    assert patient.last_name not in everything and patient.first_name not in everything
    assert confirm_url(session.pk) in message.body
    assert formats.when(dt.time(12, 30), "time") in message.body
    if channel == "sms":
        assert len(message.body) <= SMS_MAX_CHARS and not message.subject
    else:
        assert "Monday 30 September" in message.body if kind != "morning" else "today" in message.subject.lower()
        assert not FORBIDDEN.search(message.subject)
