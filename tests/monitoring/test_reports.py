"""The administrator's compliance report: per site and period, each table with a chart and a CSV."""

import csv
import datetime as dt
import io

import pytest
import time_machine
from django.db import connection
from django.template import Context, Template, engines
from django.urls import reverse

from clinic.models import AuditEvent
from monitoring import services
from monitoring.models import AdverseEvent, ClinicalThresholds, DoseRecord, PrescriberOverride
from scheduling import services as scheduling_services
from scheduling.models import Protocol
from tests import factories
from tests.export_helpers import download_export
from tests.monitoring.conftest import DAY_START, NORMAL

pytestmark = pytest.mark.django_db
DOSED = DAY_START + dt.timedelta(minutes=10)
PERIOD = {"date_from": "2026-11-01", "date_to": "2026-11-30"}
TODAY = DAY_START + dt.timedelta(days=2)  # 2026-11-19, 09:00
LONG_PERIOD = {"date_from": "2026-10-01", "date_to": "2026-11-30"}


@pytest.fixture(autouse=True)
def _every_page_computed(settings):
    """Each page computes the report (the copy kept for a few seconds: test_report_fresh.py)."""
    settings.REPORT_CACHE_SECONDS = 0


@pytest.fixture
def discharged(session, run_to_discharge):
    return run_to_discharge(session, dosed_at=DOSED)


@pytest.fixture
def clinic_month(discharged, make_session, patient, site, prescriber, nurse):
    """One discharged session with an adverse event and an override, one no-show, one cancelled,
    one booked next week (outside the period for the no-show rate, which counts due sessions)."""
    make_session(patient, start=DAY_START - dt.timedelta(days=7), status="no_show")
    make_session(patient, start=DAY_START - dt.timedelta(days=3), status="cancelled")
    AdverseEvent.objects.create(
        session=discharged,
        kind="nausea_vomiting",
        severity="mild",
        onset_at=DOSED + dt.timedelta(minutes=20),
        action_taken="Antiemetic given",
        recorded_by=nurse,
    )
    PrescriberOverride.objects.create(
        session=discharged,
        kind="pre_dose",
        blocks=["BP 152/94 above 140/90"],
        reason="Usual BP, asymptomatic",
        prescriber=prescriber,
    )
    return discharged


def report(client, **params):
    return client.get(reverse("monitoring:reports"), params)


def table(response, slug):
    return next(t for t in response.context["tables"] if t.slug == slug)


def tables(client, site, period=LONG_PERIOD):
    response = report(client, site=site.pk, **period)
    assert response.status_code == 200
    return {t.slug: t.rows for t in response.context["tables"]}


@time_machine.travel(DAY_START + dt.timedelta(days=2), tick=False)
def test_each_table_of_the_report(client_for, administrator, clinic_month, site):
    response = report(client_for(administrator), site=site.pk, **PERIOD)
    assert response.status_code == 200
    weeks = table(response, "sessions-by-week")
    assert weeks.columns[-1] == "Total"
    assert sum(row[-1] for row in weeks.rows) == 3
    assert table(response, "no-show-rate").rows == [[2, 1, 50.0]]
    length = table(response, "observation-length").rows[0]
    assert length[0] == 1 and length[1] == length[3] == 126.0
    assert length[-1] == 0  # under 120 minutes: must read 0
    assert table(response, "checkpoint-completeness").rows[0][:3] == [1, 1, 100.0]
    events = {row[0]: row for row in table(response, "adverse-events").rows}
    assert events["Nausea / vomiting"][1:] == [1, 0, 0, 1]
    overrides = table(response, "overrides").rows
    assert overrides[0][2:] == ["Pre-dose block", "BP 152/94 above 140/90", "Usual BP, asymptomatic", "Prescriber"]
    rems = dict(table(response, "rems").rows)
    assert sum(rems.values()) == 1 and rems["Submitted"] == 0
    page = response.content.decode()
    assert page.count("<svg") == 7
    assert "style=" not in page
    assert AuditEvent.objects.filter(object_type="compliance_report", action="view").exists()


@time_machine.travel(DAY_START + dt.timedelta(days=2), tick=False)
def test_a_missing_checkpoint_makes_the_session_incomplete(
    client_for, administrator, session, site, nurse, run_to_observation
):
    run_to_observation(session, dosed_at=DOSED)
    with time_machine.travel(DOSED + dt.timedelta(minutes=121), tick=False):
        services.vitals_record(session=session, user=nurse, kind="discharge", values=NORMAL)
        services.observation_discharge(
            session=session, user=nurse, alert=True, oriented=True, steady=True, picked_up_by="Jordan Example"
        )
    response = report(client_for(administrator), site=site.pk, **PERIOD)
    row = table(response, "checkpoint-completeness").rows[0]
    assert row[:3] == [1, 0, 0.0]
    assert "40-minute check: 1" in row[3]


@time_machine.travel(DAY_START + dt.timedelta(days=2), tick=False)
def test_the_report_is_per_site(client_for, administrator, clinic_month):
    other = factories.make_site("Northside")
    response = report(client_for(administrator), site=other.pk, **PERIOD)
    assert table(response, "no-show-rate").rows == [[0, 0, 0.0]]
    assert table(response, "overrides").rows == []


@time_machine.travel(DAY_START + dt.timedelta(days=2), tick=False)
def test_each_table_downloads_as_csv_and_the_download_is_audited(client_for, administrator, clinic_month, site):
    client = client_for(administrator)
    for slug in (
        "sessions-by-week",
        "no-show-rate",
        "observation-length",
        "checkpoint-completeness",
        "adverse-events",
        "overrides",
        "rems",
    ):
        text = download_export(client, reverse("monitoring:reports-csv", args=[slug]), {"site": site.pk, **PERIOD})
        rows = list(csv.reader(io.StringIO(text)))
        assert len(rows) >= 2, slug
    overrides = list(
        csv.reader(
            io.StringIO(
                download_export(
                    client, reverse("monitoring:reports-csv", args=["overrides"]), {"site": site.pk, **PERIOD}
                )
            )
        )
    )
    assert overrides[1][4] == "Usual BP, asymptomatic"
    # Each download: asked for, and downloaded.
    assert AuditEvent.objects.filter(object_type="export_job", action="export").count() == 16


def test_reversed_dates_are_an_error(client_for, administrator, site):
    response = report(client_for(administrator), site=site.pk, date_from="2026-11-30", date_to="2026-11-01")
    assert response.context["form"].has_error("__all__", code="dates_reversed")
    assert response.context["tables"] == []


def test_an_unknown_table_is_not_found(client_for, administrator, site):
    assert client_for(administrator).get(reverse("monitoring:reports-csv", args=["nope"])).status_code == 404


@pytest.mark.parametrize("role", ["scheduler", "nurse", "prescriber"])
def test_the_report_is_for_administrators_only(role, personas, client_for, site):
    client = client_for(personas[role])
    assert report(client).status_code == 403
    assert client.get(reverse("monitoring:reports-csv", args=["rems"])).status_code == 403


def test_the_report_runs_a_fixed_number_of_queries_and_sorts_rems_records_by_state(
    client_for, administrator, discharged, make_session, run_to_discharge, site, django_assert_max_num_queries
):
    client = client_for(administrator)
    with time_machine.travel(DAY_START + dt.timedelta(days=2), tick=False):
        report(client, site=site.pk, **PERIOD)  # warm the session and permission caches
        with django_assert_max_num_queries(40) as few:
            report(client, site=site.pk, **PERIOD)
    # Three more discharged sessions: two this week (in their REMS window), one twelve days back.
    for days_back in (1, 2, 12):
        start = DAY_START - dt.timedelta(days=days_back)
        run_to_discharge(make_session(factories.make_patient(site=site), start=start), dosed_at=start)
    with time_machine.travel(DAY_START + dt.timedelta(days=2), tick=False):
        with django_assert_max_num_queries(len(few.captured_queries)):
            response = report(client, site=site.pk, **PERIOD)
    rems = dict(table(response, "rems").rows)
    assert rems == {
        "Submitted": 0,
        "Complete, not submitted": 3,
        "Incomplete": 0,
        "Overdue (past the window, not submitted)": 1,
    }
    assert table(response, "checkpoint-completeness").rows[0][:3] == [4, 4, 100.0]


def test_the_reports_rems_completeness_agrees_with_the_assembled_records(
    client_for, administrator, make_session, run_to_discharge, site, nurse
):
    from monitoring import reports, selectors, selectors_reports
    from monitoring.models import Discharge, VitalsReading

    at_30 = Protocol.objects.create(name="Esketamine at 30", slug="esk-30", drug="esketamine", checkpoint_minutes=[30])
    sessions = []
    for days_back in range(6):
        start = DAY_START - dt.timedelta(days=days_back)
        protocol_ = at_30 if days_back == 4 else None
        patient = factories.make_patient(site=site)
        sessions.append(run_to_discharge(make_session(patient, start=start, protocol_=protocol_), dosed_at=start))
    complete, no_lot, not_ready, not_enrolled, no_mid, user_without_name = sessions
    DoseRecord.objects.filter(session=no_lot).update(lot_number="")
    Discharge.objects.filter(observation__session=not_ready).update(would_have_been_ready_at=None)
    not_enrolled.patient.rems_enrollment_id = ""
    not_enrolled.patient.save()
    nurse.first_name = nurse.last_name = ""
    nurse.save()
    # A corrected reading still counts, through the reading that supersedes it.
    corrected = VitalsReading.objects.get(session=complete, kind="checkpoint")
    VitalsReading.objects.create(  # a correction made before the discharge (none is taken after it)
        session=complete,
        kind=corrected.kind,
        checkpoint_minute=corrected.checkpoint_minute,
        taken_at=corrected.taken_at,
        recorded_by=nurse,
        supersedes=corrected,
        correction_reason="Typed in the wrong field",
        **NORMAL,
    )
    t = reports.thresholds()
    period = reports.Period(site, DAY_START.date() - dt.timedelta(days=10), DAY_START.date(), t)
    discharged = selectors_reports.discharged_sessions(site, period.start, period.end)
    assert {s.pk for s in discharged} == {s.pk for s in sessions}
    records = selectors.rems_records(
        selectors.rems_sessions().filter(pk__in=[s.pk for s in sessions]), today_for=lambda s: DAY_START.date(), t=t
    )
    expected = {r.session.pk: r.complete for r in records}
    assert expected[complete.pk] and expected[user_without_name.pk]
    assert not any(expected[s.pk] for s in (no_lot, not_ready, not_enrolled, no_mid))
    with time_machine.travel(DAY_START + dt.timedelta(hours=8), tick=False):
        response = report(client_for(administrator), site=site.pk, date_from="2026-11-07", date_to="2026-11-17")
    assert dict(table(response, "rems").rows) == {
        "Submitted": 0,
        "Complete, not submitted": sum(expected.values()),
        "Incomplete": len(expected) - sum(expected.values()),
        "Overdue (past the window, not submitted)": 0,
    }


def test_a_rems_record_is_overdue_from_the_day_after_its_window_closes(
    client_for, administrator, make_session, run_to_discharge, site
):
    from monitoring import reports

    window = reports.thresholds().rems_window_days
    for days_back in (window, window + 1):
        start = DAY_START - dt.timedelta(days=days_back)
        run_to_discharge(make_session(factories.make_patient(site=site), start=start), dosed_at=start)
    with time_machine.travel(DAY_START + dt.timedelta(hours=2), tick=False):
        response = report(client_for(administrator), site=site.pk, date_from="2026-10-01", date_to="2026-11-30")
    rems = dict(table(response, "rems").rows)
    assert rems["Complete, not submitted"] == 1
    assert rems["Overdue (past the window, not submitted)"] == 1


def test_a_chart_is_escaped_svg_with_long_labels_shortened():
    from monitoring import reports

    chart = reports.bar_chart([("<b>Label longer than twenty-six characters</b>", 3), ("Short", 1.5)], "sessions")
    svg = (
        engines["jinja2"].get_template("monitoring/report_chart.html").render({"chart": chart, "title": "Tom & Jerry"})
    )
    assert svg.startswith('<svg class="report-chart" role="img" aria-label="Tom &amp; Jerry chart"')
    assert "<b>" not in svg
    assert ">&lt;b&gt;Label longer than tw…<title>&lt;b&gt;Label longer" in svg
    short_bar = '<rect x="190" y="34" width="155.0" height="22" fill="#0d6efd" rx="2"><title>Short: 1.5 sessions'
    assert short_bar in svg
    sections = engines["jinja2"].get_template("monitoring/report_sections.html")
    assert "<svg" not in sections.render({"tables": [reports.Table("t", "T", [], [], None)], "query": ""})


def test_table_rows_are_shown_as_the_template_would_show_each_value():
    from monitoring import reports

    rows = [[dt.date(2026, 11, 2), 3, 14.3, "<b>BP</b> & pulse", ""], [dt.date(2026, 11, 9), 0, 0.0, "", 126.0]]
    table = reports.Table("t", "T", ["a", "b", "c", "d", "e"], rows)
    # Dates in the clinic's style ({{ cell|when:"date" }}), anything else as {{ cell }} prints it.
    loop = Template(
        "{% load clinic_formats %}{% for row in rows %}<tr>{% for cell in row %}<td>"
        '{% if cell.year %}{{ cell|when:"date" }}{% else %}{{ cell }}{% endif %}</td>{% endfor %}</tr>{% endfor %}'
    )
    expected = loop.render(Context({"rows": rows}))
    page = engines["jinja2"].get_template("monitoring/report_sections.html").render({"tables": [table], "query": ""})
    assert f"<tbody>{expected}</tbody>" in page
    assert "&lt;b&gt;BP&lt;/b&gt; &amp; pulse" in expected and "<td>Mon 2 Nov 2026</td>" in expected


@time_machine.travel(TODAY, tick=False)
def test_the_figures_of_weeks_of_sessions(client_for, administrator, weeks_of_sessions, site):
    figures = tables(client_for(administrator), site)
    assert figures["no-show-rate"] == [[7, 1, 14.3]]
    assert figures["observation-length"][0][:4] == [6, 126.0, 126.0, 126.0]
    assert figures["rems"] == [
        ["Submitted", 0],
        ["Complete, not submitted", 3],
        ["Incomplete", 0],
        ["Overdue (past the window, not submitted)", 3],
    ]


@time_machine.travel(TODAY, tick=False)
def test_changes_made_through_the_services_show_on_the_next_report(
    client_for, administrator, weeks_of_sessions, make_session, site
):
    client = client_for(administrator)
    tables(client, site)
    old = weeks_of_sessions[20]
    services.rems_mark_submitted(session=old, user=administrator, submitted_on=TODAY.date())
    after = tables(client, site)
    assert dict(after["rems"])["Submitted"] == 1
    assert dict(after["rems"])["Overdue (past the window, not submitted)"] == 2

    # A booking left open on a past day and then marked as a no-show.
    missed = make_session(factories.make_patient(site=site), start=DAY_START - dt.timedelta(days=15))
    tables(client, site)
    scheduling_services.session_mark_no_show(session=missed, version=missed.version)
    assert tables(client, site)["no-show-rate"] == [[8, 2, 25.0]]


@time_machine.travel(TODAY, tick=False)
def test_a_moved_session_is_counted_in_its_new_week(client_for, administrator, make_session, site, patient):
    client = client_for(administrator)
    booked = make_session(patient, start=DAY_START - dt.timedelta(days=10))
    assert tables(client, site)["sessions-by-week"] == [[dt.date(2026, 11, 2), 1, 0, 0, 0, 0, 0, 1]]
    tomorrow = TODAY + dt.timedelta(days=1)
    scheduling_services.session_move(session=booked, start=tomorrow, chair=booked.chair, version=booked.version)
    assert tables(client, site)["sessions-by-week"] == [[dt.date(2026, 11, 16), 1, 0, 0, 0, 0, 0, 1]]


@time_machine.travel(TODAY, tick=False)
def test_a_course_moved_to_another_protocol_is_judged_by_its_checkpoints(
    client_for, administrator, weeks_of_sessions, site
):
    client = client_for(administrator)
    assert tables(client, site)["checkpoint-completeness"][0][:3] == [6, 5, 83.3]
    session = weeks_of_sessions[3]
    at_90 = Protocol.objects.create(name="Checks at 90", slug="esk-90", drug="esketamine", checkpoint_minutes=[90])
    session.course.protocol = at_90
    session.course.save()
    row = tables(client, site)["checkpoint-completeness"][0]
    assert row[:3] == [6, 4, 66.7] and "90-minute check: 1" in row[3]


@time_machine.travel(TODAY, tick=False)
def test_protocol_and_threshold_changes_apply_to_past_days(client_for, administrator, weeks_of_sessions, site):
    client = client_for(administrator)
    row = tables(client, site)["checkpoint-completeness"][0]
    assert row[:3] == [6, 5, 83.3] and row[3] == "30-minute check: 1"  # its 40-minute reading does not count
    protocol = weeks_of_sessions[9].course.protocol
    protocol.checkpoint_minutes = [40]
    protocol.save()
    assert tables(client, site)["checkpoint-completeness"][0][:3] == [6, 6, 100.0]
    thresholds = ClinicalThresholds.objects.get(pk=1)
    thresholds.observation_minimum_minutes = 130
    thresholds.save()
    assert tables(client, site)["observation-length"][0][-1] == 6  # 126 minutes, under 130


@time_machine.travel(TODAY, tick=False)
def test_a_rems_record_changed_from_its_patient_or_dose_changes_its_state(
    client_for, administrator, weeks_of_sessions, site
):
    client = client_for(administrator)
    assert dict(tables(client, site)["rems"])["Complete, not submitted"] == 3
    in_window = weeks_of_sessions[3]
    patient = in_window.patient
    patient.rems_enrollment_id = ""
    patient.save()
    rems = dict(tables(client, site)["rems"])
    assert (rems["Complete, not submitted"], rems["Incomplete"]) == (2, 1)

    other = weeks_of_sessions[1]
    DoseRecord.objects.filter(session=other).update(lot_number="")
    rems = dict(tables(client, site)["rems"])
    assert (rems["Complete, not submitted"], rems["Incomplete"]) == (1, 2)


@time_machine.travel(TODAY, tick=False)
def test_a_change_made_with_the_triggers_switched_off_shows_too(client_for, administrator, weeks_of_sessions, site):
    """As a bulk load does: the report reads the sessions themselves."""
    client = client_for(administrator)
    assert tables(client, site)["no-show-rate"] == [[7, 1, 14.3]]
    session = weeks_of_sessions[20]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("UPDATE scheduling_session SET status = 'no_show' WHERE id = %s", [session.pk])
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")
    assert tables(client, site)["no-show-rate"] == [[7, 2, 28.6]]
