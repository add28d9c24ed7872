"""The compliance report kept in the process's cache: an unchanged report is not computed
again, and every kind of change the report shows, made straight in the database (no signals,
no services), shows on the next page."""

import datetime as dt

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.urls import reverse

from clinic.models import Patient
from monitoring.models import AdverseEvent, ClinicalThresholds, ComplianceDay, PrescriberOverride
from scheduling.models import Protocol
from tests.conftest import statements
from tests.monitoring.conftest import DAY_START

pytestmark = pytest.mark.django_db
TODAY = DAY_START + dt.timedelta(days=2)  # 2026-11-19, 09:00
PERIOD = {"date_from": "2026-10-01", "date_to": "2026-11-30"}


def touching(sql: list[str], table: str) -> list[str]:
    return [statement for statement in sql if f'"{table}"' in statement]


def page(client, site) -> tuple[dict, list[str]]:
    with statements() as sql:
        response = client.get(reverse("monitoring:reports"), {"site": site.pk, **PERIOD})
    assert response.status_code == 200
    assert '<section class="card mb-3" id="no-show-rate"' in response.content.decode()  # kept or not, shown
    return {t.slug: t.rows for t in response.context["tables"]}, sql


def generation(session) -> int:
    day = session.start.astimezone(session.chair.site.tzinfo).date()
    return ComplianceDay.objects.get(site=session.chair.site, day=day).generation


@pytest.fixture
def today():
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture
def kept(today, client_for, administrator, weeks_of_sessions, site):
    """A signed-in administrator whose report for the period is in the cache: the first page
    computes and stores every day, the second reads the stored days and keeps the report."""
    client = client_for(administrator)
    page(client, site)
    page(client, site)
    return client


@time_machine.travel(TODAY, tick=False)
def test_an_unchanged_report_is_read_from_the_cache(client_for, administrator, weeks_of_sessions, site):
    client = client_for(administrator)
    first, _ = page(client, site)  # computed live, days stored
    second, from_days = page(client, site)  # read from the stored days, then kept
    third, from_cache = page(client, site)
    assert first == second == third
    assert touching(from_days, "monitoring_adverseevent") and touching(from_days, "monitoring_prescriberoverride")
    assert not touching(from_cache, "monitoring_adverseevent")
    assert not touching(from_cache, "monitoring_prescriberoverride")
    # The kept report is its fingerprint: neither the stored days' summaries, nor the two tables
    # read from their rows, nor the thresholds and protocols as their own queries.
    assert len(from_cache) == len(from_days) - 5
    assert not touching(from_cache, "monitoring_clinicalthresholds") and not touching(from_cache, "scheduling_protocol")
    assert third["no-show-rate"] == [[7, 1, 14.3]]


def test_an_adverse_event_shows_on_the_next_page(kept, weeks_of_sessions, site, nurse):
    session = weeks_of_sessions[3]
    before = generation(session)
    event = AdverseEvent.objects.create(
        session=session,
        kind="nausea_vomiting",
        severity="mild",
        onset_at=session.start + dt.timedelta(minutes=20),
        action_taken="Antiemetic given",
        recorded_by=nurse,
    )
    assert generation(session) > before
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
    before = generation(session)
    override = PrescriberOverride.objects.create(
        session=session, kind="pre_dose", blocks=["BP 152/94"], reason="Usual BP", prescriber=prescriber
    )
    assert generation(session) > before
    (row,) = page(kept, site)[0]["overrides"]
    assert row[1] == session.patient.mrn and row[4] == "Usual BP"

    before = generation(session)
    Patient.objects.filter(pk=session.patient_id).update(mrn="MRN-CHANGED")
    assert generation(session) > before
    assert page(kept, site)[0]["overrides"][0][1] == "MRN-CHANGED"

    before = generation(session)
    get_user_model().objects.filter(pk=prescriber.pk).update(first_name="Ada", last_name="Renamed")
    assert generation(session) > before
    assert page(kept, site)[0]["overrides"][0][5] == "Ada Renamed"

    PrescriberOverride.objects.filter(pk=override.pk).update(reason="Reviewed again")
    assert page(kept, site)[0]["overrides"][0][4] == "Reviewed again"


def test_a_name_change_of_a_user_without_overrides_keeps_the_report(kept, site, nurse):
    days = dict(ComplianceDay.objects.filter(site=site).values_list("day", "generation"))
    get_user_model().objects.filter(pk=nurse.pk).update(last_name="Elsewhere")
    Patient.objects.filter(site=site).update(phone="+15550000000")
    assert dict(ComplianceDay.objects.filter(site=site).values_list("day", "generation")) == days
    _, sql = page(kept, site)
    assert not touching(sql, "monitoring_adverseevent")


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
        rems, sql = page(client, site)
        assert dict(rems["rems"])["Overdue (past the window, not submitted)"] == 4
        assert not [statement for statement in sql if 'AS "due"' in statement]  # no day counted live again
