"""The REMS record as a PDF: the form's sections in order with the record's values, a draft
while incomplete, and one file of every complete, unsubmitted record of a period; audited,
for those who read REMS records only."""

import datetime as dt
import io

import pytest
import time_machine
from django.urls import reverse
from pypdf import PdfReader

from clinic.models import AuditEvent
from monitoring.models import RemsSubmission
from tests.monitoring.conftest import DAY_START

pytestmark = pytest.mark.django_db

DOSED = DAY_START + dt.timedelta(minutes=10)
NEXT_DAY = DAY_START + dt.timedelta(days=1)


def text_of(response) -> tuple[int, str]:
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture
def discharged(session, run_to_discharge):
    return run_to_discharge(session, dosed_at=DOSED)


def test_a_complete_record_prints_in_the_forms_sections_and_order(client_for, administrator, discharged):
    with time_machine.travel(NEXT_DAY, tick=False):
        response = client_for(administrator).get(reverse("monitoring:rems-pdf", args=[discharged.pk]))
    pages, text = text_of(response)
    titles = [
        "1. Patient information",
        "2. Concomitant medications",
        "3. Treatment session",
        "4. Post-administration monitoring",
        "5. Adverse events during monitoring",
    ]
    positions = [text.index(title) for title in titles]
    assert positions == sorted(positions)
    assert discharged.patient.full_name in text and "LOT42" in text and "56 mg" in text
    assert "126" in text and "95" in text  # minutes monitored, minutes until ready
    assert "DRAFT" not in text and "MISSING" not in text
    assert "-DRAFT" not in response["Content-Disposition"]
    assert AuditEvent.objects.filter(action="export", object_type="session", object_id=str(discharged.pk)).exists()


def test_an_incomplete_record_is_a_draft_naming_what_is_missing(client_for, administrator, session, run_to_observation):
    run_to_observation(session, dosed_at=DOSED)
    with time_machine.travel(DOSED + dt.timedelta(minutes=30), tick=False):
        response = client_for(administrator).get(reverse("monitoring:rems-pdf", args=[session.pk]))
    _, text = text_of(response)
    flat = " ".join(text.split())
    assert "DRAFT - incomplete, not for submission" in flat
    assert "BP before discharge" in text and "MISSING" in text
    assert "-DRAFT.pdf" in response["Content-Disposition"]


def test_a_period_gives_every_complete_unsubmitted_record_in_one_file(client_for, administrator, weeks_of_sessions):
    submitted = weeks_of_sessions[3]
    RemsSubmission.objects.create(session=submitted, submitted_on=DAY_START.date(), submitted_by=administrator)
    url = reverse("monitoring:rems-period-pdf")
    with time_machine.travel(DAY_START, tick=False):
        response = client_for(administrator).get(url, {"first": "2026-11-06", "last": "2026-11-16"})
    pages, text = text_of(response)
    # 1, 5 and 9 days back are in the period; 3 is submitted; 9 is incomplete (checks at 30 minutes).
    names = [weeks_of_sessions[d].patient.full_name for d in (1, 5)]
    assert all(name in text for name in names)
    assert weeks_of_sessions[9].patient.full_name not in text
    assert submitted.patient.full_name not in text and weeks_of_sessions[20].patient.full_name not in text
    assert pages >= 2 and "DRAFT" not in text
    audit = AuditEvent.objects.get(object_type="rems_records_pdf")
    assert sorted(audit.summary["sessions"]) == sorted(weeks_of_sessions[d].pk for d in (1, 5))


def test_a_period_without_records_says_so_and_a_bad_period_is_refused_beside_the_field(client_for, administrator):
    client = client_for(administrator)
    url = reverse("monitoring:rems-period-pdf")
    assert client.get(url).status_code == 200
    empty = client.get(url, {"first": "2026-01-01", "last": "2026-01-02"})
    assert "No complete, unsubmitted record" in empty.content.decode()
    backwards = client.get(url, {"first": "2026-01-05", "last": "2026-01-02"})
    assert backwards.status_code == 400
    assert "The last day cannot be before the first." in backwards.content.decode()


@pytest.mark.parametrize("role", ["scheduler", "nurse", "prescriber"])
def test_only_those_who_read_rems_records_print_them(client_for, personas, role, discharged):
    client = client_for(personas[role])
    assert client.get(reverse("monitoring:rems-pdf", args=[discharged.pk])).status_code == 403
    assert client.get(reverse("monitoring:rems-period-pdf")).status_code == 403
