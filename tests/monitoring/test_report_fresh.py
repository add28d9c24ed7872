"""The compliance report is computed from the live data: every kind of change the report
shows, made straight in the database (no signals, no services), shows on the next page. A
computed report is kept for ``REPORT_CACHE_SECONDS`` only, with its time on the page."""

import csv
import datetime as dt
import io

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.urls import reverse

from clinic.models import Patient
from monitoring.models import AdverseEvent, ClinicalThresholds, PrescriberOverride
from scheduling.models import Protocol, Session
from tests import factories
from tests.export_helpers import download_export
from tests.monitoring.conftest import DAY_START

pytestmark = pytest.mark.django_db
TODAY = DAY_START + dt.timedelta(days=2)  # 2026-11-19, 09:00
PERIOD = {"date_from": "2026-10-01", "date_to": "2026-11-30"}


@pytest.fixture(autouse=True)
def _every_page_computed(settings):
    """The changes below show on the very next page; the copy kept for a few seconds has its own tests."""
    settings.REPORT_CACHE_SECONDS = 0


def page(client, site) -> tuple[dict, str]:
    response = client.get(reverse("monitoring:reports"), {"site": site.pk, **PERIOD})
    assert response.status_code == 200
    content = response.content.decode()
    assert '<section class="card mb-3" id="no-show-rate"' in content
    return {t.slug: t.rows for t in response.context["tables"]}, content


@pytest.fixture
def today():
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture
def kept(today, client_for, administrator, weeks_of_sessions, site):
    """A signed-in administrator who has seen the report for the period once."""
    client = client_for(administrator)
    page(client, site)
    return client


def test_an_adverse_event_shows_on_the_next_page(kept, weeks_of_sessions, site, nurse):
    session = weeks_of_sessions[3]
    event = AdverseEvent.objects.create(
        session=session,
        kind="nausea_vomiting",
        severity="mild",
        onset_at=session.start + dt.timedelta(minutes=20),
        action_taken="Antiemetic given",
        recorded_by=nurse,
    )
    rows = dict((row[0], row[1:]) for row in page(kept, site)[0]["adverse-events"])
    assert rows["Nausea / vomiting"] == [1, 0, 0, 1]

    AdverseEvent.objects.filter(pk=event.pk).update(severity="severe")
    rows = dict((row[0], row[1:]) for row in page(kept, site)[0]["adverse-events"])
    assert rows["Nausea / vomiting"] == [0, 0, 1, 1]

    AdverseEvent.objects.filter(pk=event.pk).delete()
    rows = dict((row[0], row[1:]) for row in page(kept, site)[0]["adverse-events"])
    assert rows["Nausea / vomiting"] == [0, 0, 0, 0]


def test_an_override_and_changes_to_the_names_it_shows_appear_on_the_next_page(
    kept, weeks_of_sessions, site, prescriber
):
    session = weeks_of_sessions[5]
    assert page(kept, site)[0]["overrides"] == []
    override = PrescriberOverride.objects.create(
        session=session, kind="pre_dose", blocks=["BP 152/94"], reason="Usual BP", prescriber=prescriber
    )
    (row,) = page(kept, site)[0]["overrides"]
    assert row[1] == session.patient.mrn and row[4] == "Usual BP"

    Patient.objects.filter(pk=session.patient_id).update(mrn="MRN-CHANGED")
    assert page(kept, site)[0]["overrides"][0][1] == "MRN-CHANGED"

    get_user_model().objects.filter(pk=prescriber.pk).update(first_name="Ada", last_name="Renamed")
    assert page(kept, site)[0]["overrides"][0][5] == "Ada Renamed"

    PrescriberOverride.objects.filter(pk=override.pk).update(reason="Reviewed again")
    assert page(kept, site)[0]["overrides"][0][4] == "Reviewed again"


def test_a_session_given_to_another_patient_shows_them_on_the_next_page(kept, weeks_of_sessions, site, prescriber):
    """A session moved to another patient by a plain update: the next page names the new
    patient and counts their REMS record (this one not enrolled, so the record is incomplete)."""
    session = weeks_of_sessions[1]
    PrescriberOverride.objects.create(
        session=session, kind="pre_dose", blocks=["BP 152/94"], reason="Usual BP", prescriber=prescriber
    )
    before = dict(page(kept, site)[0]["rems"])
    other = factories.make_patient(site=site, rems_enrollment_id="", rems_enrollment_date=None)

    Session.objects.filter(pk=session.pk).update(patient=other)
    tables, _ = page(kept, site)
    assert tables["overrides"][0][1] == other.mrn
    after = dict(tables["rems"])
    assert after["Incomplete"] == before["Incomplete"] + 1
    assert after["Complete, not submitted"] == before["Complete, not submitted"] - 1


def test_thresholds_and_protocols_changed_show_on_the_next_page(kept, weeks_of_sessions, site):
    assert page(kept, site)[0]["observation-length"][0][-1] == 0
    thresholds = ClinicalThresholds.objects.get(pk=1)
    thresholds.observation_minimum_minutes = 130
    thresholds.save()
    assert page(kept, site)[0]["observation-length"][0][-1] == 6  # 126 minutes, under 130

    assert page(kept, site)[0]["checkpoint-completeness"][0][:3] == [6, 5, 83.3]
    Protocol.objects.filter(pk=weeks_of_sessions[9].course.protocol_id).update(checkpoint_minutes=[40])
    assert page(kept, site)[0]["checkpoint-completeness"][0][:3] == [6, 6, 100.0]


def test_a_booking_coming_due_is_counted_by_the_next_page(client_for, administrator, weeks_of_sessions, site):
    """Nothing in the database changes when the booking at noon comes due: the report kept
    before then is not used after it."""
    with time_machine.travel(TODAY + dt.timedelta(hours=2, minutes=55), tick=False):
        client = client_for(administrator)
        page(client, site)
        assert page(client, site)[0]["no-show-rate"] == [[7, 1, 14.3]]
    with time_machine.travel(TODAY + dt.timedelta(hours=3, minutes=1), tick=False):
        assert page(client, site)[0]["no-show-rate"] == [[8, 1, 12.5]]
        assert page(client, site)[0]["no-show-rate"] == [[8, 1, 12.5]]


def test_a_new_day_moves_records_past_the_rems_window(client_for, administrator, weeks_of_sessions, site):
    """Nothing in the database changes at midnight either: the session five days before
    ``DAY_START`` passes its REMS window when the site's next day begins."""
    before_midnight = TODAY.replace(hour=23, minute=57)
    with time_machine.travel(before_midnight, tick=False):
        client = client_for(administrator)
        page(client, site)
        rems = dict(page(client, site)[0]["rems"])
        assert rems["Overdue (past the window, not submitted)"] == 3
    with time_machine.travel(before_midnight + dt.timedelta(minutes=6), tick=False):
        rems, _ = page(client, site)
        assert dict(rems["rems"])["Overdue (past the window, not submitted)"] == 4


def test_the_page_shows_when_its_figures_were_computed(client_for, administrator, weeks_of_sessions, site):
    with time_machine.travel(TODAY + dt.timedelta(minutes=4, seconds=7), tick=False):
        _, content = page(client_for(administrator), site)
    assert "Figures as of 09:04:07 (site time)." in content


def test_a_computed_report_is_kept_a_few_seconds_with_its_time_and_then_computed_again(
    settings, client_for, administrator, weeks_of_sessions, site, nurse
):
    settings.REPORT_CACHE_SECONDS = 10
    with time_machine.travel(TODAY, tick=False):
        client = client_for(administrator)
        first, content = page(client, site)
        assert "Figures as of 09:00:00 (site time); a page opened within 10 seconds shows the same figures." in content
        AdverseEvent.objects.create(
            session=weeks_of_sessions[3],
            kind="nausea_vomiting",
            severity="mild",
            onset_at=weeks_of_sessions[3].start + dt.timedelta(minutes=20),
            action_taken="Antiemetic given",
            recorded_by=nurse,
        )
    with time_machine.travel(TODAY + dt.timedelta(seconds=9), tick=False):
        kept, content = page(client, site)
        assert kept == first and "Figures as of 09:00:00 (site time)" in content
        # The downloads always compute.
        download = download_export(
            client, reverse("monitoring:reports-csv", args=["adverse-events"]), {"site": site.pk, **PERIOD}
        )
        rows = {row[0]: row[1:] for row in csv.reader(io.StringIO(download))}
        assert rows["Nausea / vomiting"] == ["1", "0", "0", "1"]
    with time_machine.travel(TODAY + dt.timedelta(seconds=11), tick=False):
        fresh, content = page(client, site)
        assert "Figures as of 09:00:11 (site time)" in content
    assert dict((row[0], row[1:]) for row in fresh["adverse-events"])["Nausea / vomiting"] == [1, 0, 0, 1]
