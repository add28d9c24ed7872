"""The REMS record as a PDF: the form's sections in order with the record's values, a draft
while incomplete, and one file of every complete, unsubmitted record of a period; audited,
for those who read REMS records only. Besides the text, the tests read the file's structure
with pypdf: its outline (records and their sections, with their pages), the page count and the
rotated DRAFT drawn on each page."""

import datetime as dt
import io

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from clinic.models import AuditEvent
from monitoring.models import RemsSubmission
from tests.monitoring.conftest import DAY_START

pytestmark = pytest.mark.django_db

DOSED = DAY_START + dt.timedelta(minutes=10)
NEXT_DAY = DAY_START + dt.timedelta(days=1)


SECTIONS = [
    "1. Patient information",
    "2. Concomitant medications",
    "3. Treatment session",
    "4. Post-administration monitoring",
    "5. Adverse events during monitoring",
]


def text_of(response) -> tuple[int, str]:
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def outline_of(response) -> list[tuple[str, int, list[tuple[str, int]]]]:
    """The file's outline as a PDF reader shows it: (title, page index, [(section, page index)])
    for each record, read from the document's structure, not its text."""
    reader = PdfReader(io.BytesIO(response.content))
    records = []
    for item in reader.outline:
        if isinstance(item, list):
            records[-1][2].extend((d.title, reader.get_destination_page_number(d)) for d in item)
        else:
            records.append((item.title, reader.get_destination_page_number(item), []))
    return records


def diagonal_marks(response) -> list[list[str]]:
    """Per page, the text drawn rotated by about 45 degrees (the draft watermark), read from the
    page's content stream: the text with its transformation matrix."""
    reader = PdfReader(io.BytesIO(response.content))
    pages = []
    for page in reader.pages:
        marks = []

        def visit(text, cm, tm, font, size, marks=marks):
            a, b = cm[0] * tm[0] + cm[2] * tm[1], cm[1] * tm[0] + cm[3] * tm[1]
            if text.strip() and abs(abs(a) - abs(b)) < 0.05 and abs(b) > 0.1:
                marks.append(text.strip())

        page.extract_text(visitor_text=visit)
        pages.append(marks)
    return pages


@pytest.fixture
def discharged(session, run_to_discharge):
    return run_to_discharge(session, dosed_at=DOSED)


def test_a_complete_record_prints_in_the_forms_sections_and_order(client_for, administrator, discharged):
    with time_machine.travel(NEXT_DAY, tick=False):
        response = client_for(administrator).get(reverse("monitoring:rems-pdf", args=[discharged.pk]))
    pages, text = text_of(response)
    positions = [text.index(title) for title in SECTIONS]
    assert positions == sorted(positions)
    # The structure: one record on one page, its sections in the form's order, no watermark.
    treated = timezone.localdate(discharged.start)
    assert outline_of(response) == [
        (f"Session {discharged.pk} · {treated:%Y-%m-%d}", 0, [(title, 0) for title in SECTIONS] + [("Record notes", 0)])
    ]
    assert pages == 1 and diagonal_marks(response) == [[]]
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
    # The diagonal DRAFT is drawn on every page, and the outline names the record a draft.
    assert all(marks == ["DRAFT"] for marks in diagonal_marks(response))
    [(title, _, sections)] = outline_of(response)
    assert title.endswith("· DRAFT") and [s for s, _ in sections][:5] == SECTIONS


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
    assert "DRAFT" not in text
    # One page per session, each record's outline entry on its own page, in treatment order.
    outline = outline_of(response)
    assert pages == 2 and [page for _, page, _ in outline] == [0, 1]
    assert [title.split(" · ")[0] for title, _, _ in outline] == [f"Session {weeks_of_sessions[d].pk}" for d in (5, 1)]
    assert all({page for _, page in sections} == {index} for index, (_, _, sections) in enumerate(outline))
    assert diagonal_marks(response) == [[], []]
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
