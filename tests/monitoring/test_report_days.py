"""The compliance report's stored days: the same figures as computing every day live, and a
stored day cleared by the database whenever something it counts changes."""

import datetime as dt
import io

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from monitoring import report_days, services
from monitoring.models import ClinicalThresholds, ComplianceDay, DoseRecord, ReadingKind
from scheduling import services as scheduling_services
from scheduling.models import Protocol
from tests import factories
from tests.monitoring.conftest import DAY_START

pytestmark = pytest.mark.django_db
TODAY = DAY_START + dt.timedelta(days=2)  # 2026-11-19
PERIOD = {"date_from": "2026-10-01", "date_to": "2026-11-30"}


def tables(client, site):
    response = client.get(reverse("monitoring:reports"), {"site": site.pk, **PERIOD})
    assert response.status_code == 200
    return {t.slug: t.rows for t in response.context["tables"]}


def stored(site) -> dict[dt.date, dict | None]:
    return dict(ComplianceDay.objects.filter(site=site).values_list("day", "summary"))


@time_machine.travel(TODAY, tick=False)
def test_stored_days_give_the_figures_of_the_live_computation(
    client_for, administrator, weeks_of_sessions, site, monkeypatch
):
    client = client_for(administrator)
    first = tables(client, site)
    days = stored(site)
    # Every day of the period is stored, empty days and days to come too.
    assert sorted(day for day, summary in days.items() if summary is not None) == report_days.days_between(
        dt.date(2026, 10, 1), dt.date(2026, 11, 30)
    )
    # Today's summary holds until the booking later today comes due; the other days have nothing to come.
    valid_until = dict(ComplianceDay.objects.filter(site=site).values_list("day", "valid_until"))
    assert valid_until.pop(TODAY.date()) == TODAY + dt.timedelta(hours=3)
    assert set(valid_until.values()) == {None}
    with CaptureQueriesContext(connection) as read_back:
        assert tables(client, site) == first  # read from the stored days
    assert not [q for q in read_back.captured_queries if 'AS "due"' in q["sql"]]  # no session counted live
    monkeypatch.setattr(report_days, "stores_days", lambda: False)
    live = tables(client, site)
    assert live == first
    assert first["no-show-rate"] == [[7, 1, 14.3]]
    assert first["observation-length"][0][:4] == [6, 126.0, 126.0, 126.0]
    assert first["rems"] == [
        ["Submitted", 0],
        ["Complete, not submitted", 3],
        ["Incomplete", 0],
        ["Overdue (past the window, not submitted)", 3],
    ]


@time_machine.travel(TODAY, tick=False)
def test_a_change_to_a_stored_day_clears_it_and_the_report_shows_the_change(
    client_for, administrator, weeks_of_sessions, make_session, site
):
    client = client_for(administrator)
    tables(client, site)
    old = weeks_of_sessions[20]
    day = old.start.astimezone(site.tzinfo).date()
    generation = ComplianceDay.objects.get(site=site, day=day).generation

    services.rems_mark_submitted(session=old, user=administrator, submitted_on=TODAY.date())
    row = ComplianceDay.objects.get(site=site, day=day)
    assert row.summary is None and row.generation > generation
    after = tables(client, site)
    assert dict(after["rems"])["Submitted"] == 1
    assert dict(after["rems"])["Overdue (past the window, not submitted)"] == 2
    assert stored(site)[day] is not None  # stored again

    # A booking left open on a past day and then marked as a no-show clears its day too.
    missed = make_session(factories.make_patient(site=site), start=DAY_START - dt.timedelta(days=15))
    tables(client, site)
    missed_day = missed.start.astimezone(site.tzinfo).date()
    assert stored(site)[missed_day] is not None
    scheduling_services.session_mark_no_show(session=missed, version=missed.version)
    assert stored(site)[missed_day] is None
    assert tables(client, site)["no-show-rate"] == [[8, 2, 25.0]]


@time_machine.travel(TODAY, tick=False)
def test_moving_a_session_clears_the_day_it_left(client_for, administrator, make_session, site, patient):
    client = client_for(administrator)
    booked = make_session(patient, start=DAY_START - dt.timedelta(days=10))
    assert tables(client, site)["sessions-by-week"] == [[dt.date(2026, 11, 2), 1, 0, 0, 0, 0, 0, 1]]
    left = booked.start.astimezone(site.tzinfo).date()
    tomorrow = TODAY + dt.timedelta(days=1)
    scheduling_services.session_move(session=booked, start=tomorrow, chair=booked.chair, version=booked.version)
    days = stored(site)
    assert days[left] is None
    assert days[left + dt.timedelta(days=1)] is not None
    assert tables(client, site)["sessions-by-week"] == [[dt.date(2026, 11, 16), 1, 0, 0, 0, 0, 0, 1]]


@time_machine.travel(TODAY, tick=False)
def test_a_course_moved_to_another_protocol_clears_the_days_of_its_sessions(
    client_for, administrator, weeks_of_sessions, site
):
    client = client_for(administrator)
    assert tables(client, site)["checkpoint-completeness"][0][:3] == [6, 5, 83.3]
    session = weeks_of_sessions[3]
    at_90 = Protocol.objects.create(name="Checks at 90", slug="esk-90", drug="esketamine", checkpoint_minutes=[90])
    session.course.protocol = at_90
    session.course.save()
    assert stored(site)[session.start.astimezone(site.tzinfo).date()] is None
    row = tables(client, site)["checkpoint-completeness"][0]
    assert row[:3] == [6, 4, 66.7] and "90-minute check: 1" in row[3]


@time_machine.travel(TODAY, tick=False)
def test_protocol_and_threshold_changes_apply_to_stored_days_without_clearing_them(
    client_for, administrator, weeks_of_sessions, site
):
    client = client_for(administrator)
    row = tables(client, site)["checkpoint-completeness"][0]
    assert row[:3] == [6, 5, 83.3] and row[3] == "30-minute check: 1"  # its 40-minute reading does not count
    protocol = weeks_of_sessions[9].course.protocol
    protocol.checkpoint_minutes = [40]
    protocol.save()
    assert all(summary is not None for day, summary in stored(site).items() if day < TODAY.date())
    assert tables(client, site)["checkpoint-completeness"][0][:3] == [6, 6, 100.0]
    thresholds = ClinicalThresholds.objects.get(pk=1)
    thresholds.observation_minimum_minutes = 130
    thresholds.save()
    assert tables(client, site)["observation-length"][0][-1] == 6  # 126 minutes, under 130


def test_a_day_changed_while_the_report_computed_it_is_not_stored(site, make_session, patient):
    day = (DAY_START - dt.timedelta(days=10)).date()
    make_session(patient, start=DAY_START - dt.timedelta(days=10))
    read = ComplianceDay.objects.get(site=site, day=day)  # the report read this generation
    computed = report_days.live_days(site, day, day, now=DAY_START)
    make_session(factories.make_patient(site=site), start=DAY_START - dt.timedelta(days=10, hours=-4))
    report_days.store(site, {day: (read.generation, computed[day])})
    assert ComplianceDay.objects.get(site=site, day=day).summary is None
    # Nor a day that had no row when read and was created by a change since.
    other = day - dt.timedelta(days=1)
    empty = report_days.live_days(site, other, other, now=DAY_START)
    make_session(factories.make_patient(site=site), start=DAY_START - dt.timedelta(days=11))
    report_days.store(site, {other: (0, empty[other])})
    assert ComplianceDay.objects.get(site=site, day=other).summary is None
    # Stored when nothing changed; storing it twice changes nothing.
    current = ComplianceDay.objects.get(site=site, day=day)
    fresh = report_days.live_days(site, day, day, now=DAY_START)[day]
    report_days.store(site, {day: (current.generation, fresh)})
    report_days.store(site, {day: (current.generation, fresh)})
    summary = ComplianceDay.objects.get(site=site, day=day).summary
    assert report_days.DaySummary.from_json(summary) == fresh
    assert sum(fresh.statuses.values()) == 2


def test_a_day_summary_survives_its_json_form():
    summary = report_days.DaySummary()
    summary.statuses[("discharged", True)] += 2
    summary.lengths[126.4] += 2
    have = frozenset({(ReadingKind.PRE_DOSE.value, None), (ReadingKind.CHECKPOINT.value, 40)})
    summary.discharged[(None, have, report_days.READY)] += 2
    summary.discharged[(7, frozenset(), report_days.SUBMITTED)] += 1
    assert report_days.DaySummary.from_json(summary.to_json()) == summary


@time_machine.travel(TODAY, tick=False)
def test_a_rems_record_changed_from_its_patient_or_dose_clears_its_day(
    client_for, administrator, weeks_of_sessions, site
):
    client = client_for(administrator)
    assert dict(tables(client, site)["rems"])["Complete, not submitted"] == 3
    in_window = weeks_of_sessions[3]
    day = in_window.start.astimezone(site.tzinfo).date()
    patient = in_window.patient
    patient.rems_enrollment_id = ""
    patient.save()
    assert stored(site)[day] is None
    rems = dict(tables(client, site)["rems"])
    assert (rems["Complete, not submitted"], rems["Incomplete"]) == (2, 1)

    other = weeks_of_sessions[1]
    DoseRecord.objects.filter(session=other).update(lot_number="")
    assert stored(site)[other.start.astimezone(site.tzinfo).date()] is None
    rems = dict(tables(client, site)["rems"])
    assert (rems["Complete, not submitted"], rems["Incomplete"]) == (1, 2)


@time_machine.travel(TODAY, tick=False)
def test_the_check_command_names_a_stored_day_that_differs_from_the_sessions(
    client_for, administrator, weeks_of_sessions, site
):
    from django.core.management import CommandError, call_command

    tables(client_for(administrator), site)
    out = io.StringIO()
    call_command("compliance_days", stdout=out)
    assert f"{len(stored(site))} stored days agree with the sessions." in out.getvalue()
    # A change the triggers cannot see (made with them switched off, as a bulk load does).
    session = weeks_of_sessions[20]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("UPDATE scheduling_session SET status = 'no_show' WHERE id = %s", [session.pk])
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")
    differs = f"1 of .* stored days differ from the sessions: Riverside {session.start.date()}"
    with pytest.raises(CommandError, match=differs):
        call_command("compliance_days")
    call_command("compliance_days", "--clear", stdout=out)
    assert not ComplianceDay.objects.exists()
    assert tables(client_for(administrator), site)["no-show-rate"] == [[7, 2, 28.6]]


def test_today_is_read_from_the_store_until_a_booking_comes_due(
    client, client_for, administrator, weeks_of_sessions, site
):
    """Nothing changes in the database when a booked session's time comes, but the no-show
    rate counts it from then on: today's stored summary is used only until that moment."""
    with time_machine.travel(TODAY, tick=False):
        assert tables(client_for(administrator), site)["no-show-rate"] == [[7, 1, 14.3]]
        generation = ComplianceDay.objects.get(site=site, day=TODAY.date()).generation
    with time_machine.travel(TODAY + dt.timedelta(hours=3, minutes=1), tick=False):
        client.logout()  # signed out by the idle timeout meanwhile
        assert tables(client_for(administrator), site)["no-show-rate"] == [[8, 1, 12.5]]
        row = ComplianceDay.objects.get(site=site, day=TODAY.date())
        assert (row.generation, row.valid_until) == (generation, None)  # computed again, nothing left to come
        call_command("compliance_days", stdout=io.StringIO())
    # A stored summary whose time has passed is not taken for a stale one by the check.
    ComplianceDay.objects.filter(site=site, day=TODAY.date()).update(valid_until=TODAY + dt.timedelta(hours=1))
    with time_machine.travel(TODAY + dt.timedelta(hours=3, minutes=1), tick=False):
        call_command("compliance_days", stdout=io.StringIO())
