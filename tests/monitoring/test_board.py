import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinic.models import Chair, StaffAlert
from monitoring import services
from tests import factories
from tests.monitoring.conftest import DAY_START, NORMAL

pytestmark = pytest.mark.django_db


def test_the_board_lists_todays_sessions_with_status_and_next_checkpoint(
    client_for, nurse, session, run_to_observation
):
    run_to_observation(session)
    with time_machine.travel(DAY_START + dt.timedelta(minutes=62), tick=False):
        response = client_for(nurse).get(reverse("monitoring:board"))
    page = response.content.decode()
    assert response.status_code == 200
    assert session.patient.full_name in page
    assert "In observation" in page
    assert "52 min" in page
    assert "40-minute check 09:50" in page and "Overdue" in page
    assert "120 minutes of observation end at 11:10" in page
    assert 'hx-get="/board/table/' in page and "every 5s" in page


def test_the_board_escapes_what_staff_typed(client_for, nurse, session, run_to_observation):
    session.patient.first_name = '<script>alert("x")</script>'
    session.patient.save()
    run_to_observation(session)
    with time_machine.travel(DAY_START + dt.timedelta(minutes=62), tick=False):
        page = client_for(nurse).get(reverse("monitoring:board")).content.decode()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert f'<a href="{reverse("monitoring:session-day", args=[session.pk])}">' in page


def test_the_board_table_refreshes_as_a_partial(client_for, nurse, session):
    with time_machine.travel(DAY_START, tick=False):
        response = client_for(nurse).get(reverse("monitoring:board-table"))
    assert response.status_code == 200
    assert "<html" not in response.content.decode()
    assert session.patient.full_name in response.content.decode()


def test_the_board_shows_open_nurse_alerts(client_for, nurse, site):
    StaffAlert.objects.create(kind="x", dedupe_key="k1", message="Chair 2 checkpoint overdue", site=site)
    StaffAlert.objects.create(kind="x", dedupe_key="k2", message="Scheduler task", audience="scheduler")
    page = client_for(nurse).get(reverse("monitoring:board")).content.decode()
    assert "Chair 2 checkpoint overdue" in page
    assert "Scheduler task" not in page


def test_the_board_for_twenty_chairs_issues_a_fixed_number_of_queries(client_for, nurse, site, make_session):
    for n in range(7, 21):
        Chair.objects.create(site=site, name=f"Chair {n}")
    chairs = list(site.chairs.all())
    client = client_for(nurse)

    def fill(some_chairs):
        for chair in some_chairs:
            s = make_session(factories.make_patient(site=site), chair=chair)
            with time_machine.travel(DAY_START + dt.timedelta(minutes=5), tick=False):
                services.session_check_in(session=s, user=nurse, arrived_at=DAY_START, checklist={})
                services.vitals_record(session=s, user=nurse, kind="pre_dose", values={**NORMAL, "spo2": 92})

    def count_queries():
        with time_machine.travel(DAY_START + dt.timedelta(minutes=30), tick=False):
            client.get(reverse("monitoring:board"))  # warm the session and permission caches
            with CaptureQueriesContext(connection) as ctx:
                response = client.get(reverse("monitoring:board"))
        assert response.status_code == 200
        return ctx.captured_queries

    fill(chairs[:2])
    few = count_queries()
    fill(chairs[2:])
    assert len(chairs) == 20
    many = count_queries()
    assert len(many) == len(few), [q["sql"][:120] for q in many]


def test_the_board_takes_the_same_decisions_as_the_session_day(
    nurse, prescriber, site, make_session, run_to_observation, run_to_discharge
):
    """The board reads plain rows; the session-day page reads model objects. Both must agree on
    every session whatever its state."""
    from monitoring import selectors, selectors_board
    from monitoring.models import ClinicalThresholds, VitalsReading
    from tests.monitoring.conftest import CHECKLIST_ALL

    for n in range(7, 12):
        Chair.objects.create(site=site, name=f"Chair {n}")
    chairs = iter(site.chairs.order_by("pk"))
    later = DAY_START + dt.timedelta(hours=4)  # 13:00: every session below has reached its state

    def new(**kwargs):
        return make_session(factories.make_patient(site=site), chair=next(chairs), **kwargs)

    def checked_in(checklist=CHECKLIST_ALL, systolic=None):
        s = new()
        with time_machine.travel(DAY_START, tick=False):
            services.session_check_in(session=s, user=nurse, arrived_at=DAY_START, checklist=checklist)
            if systolic:
                services.vitals_record(session=s, user=nurse, kind="pre_dose", values={**NORMAL, "systolic": systolic})
        return s

    def before_discharge(spo2):
        s = new()
        run_to_observation(s, dosed_at=DAY_START + dt.timedelta(minutes=60))
        with time_machine.travel(DAY_START + dt.timedelta(minutes=178), tick=False):
            services.vitals_record(session=s, user=nurse, kind="discharge", values={**NORMAL, "spo2": spo2})
        return s

    no_ride = new(ride=None)  # booked, no ride home
    incomplete = checked_in(checklist={})  # checklist incomplete, no pre-dose reading
    high_bp = checked_in(systolic=152)  # BP above the pre-dose limit
    overridden = checked_in(systolic=150)
    with time_machine.travel(DAY_START, tick=False):
        services.predose_override(session=overridden, user=prescriber, reason="Repeat BP 138/86")
    ready = checked_in(systolic=128)
    overdue = run_to_observation(new(), dosed_at=later - dt.timedelta(minutes=50))
    corrected = new()
    run_to_observation(corrected, dosed_at=later - dt.timedelta(minutes=60))
    with time_machine.travel(later - dt.timedelta(minutes=19), tick=False):
        services.vitals_record(
            session=corrected, user=nurse, kind="checkpoint", checkpoint_minute=40, values={**NORMAL, "systolic": 218}
        )
        services.vitals_correct(
            reading=VitalsReading.objects.get(session=corrected, checkpoint_minute=40),
            user=nurse,
            values=NORMAL,
            reason="Typed 218 instead of 128",
        )
    in_range = before_discharge(spo2=98)
    out_of_range = before_discharge(spo2=90)  # a new reading or an override is needed
    accepted = before_discharge(spo2=90)
    with time_machine.travel(DAY_START + dt.timedelta(minutes=179), tick=False):
        services.discharge_vitals_override(session=accepted, user=prescriber, reason="Baseline SpO2 91 on air")
    discharged = run_to_discharge(new())

    board = selectors_board.board(site=site, now=later)
    t = ClinicalThresholds.current().as_rules()
    days = {
        s.pk: selectors.build_day(s, t=t, now=later)
        for s in selectors.session_queryset().filter(chair__site=site).order_by("start", "chair__name")
    }
    assert [row["url"] for row in board["rows"]] == [reverse("monitoring:session-day", args=[pk]) for pk in days]
    for row, day in zip(board["rows"], days.values(), strict=True):
        status = day.session.status
        in_observation = status == "in_observation"
        check = day.next_checkpoint if in_observation else None
        latest = day.latest_reading
        assert row["status"] == status
        assert row["dosing_blocked"] == (bool(day.dosing_blocks) and status == "checked_in")
        assert row["since_dose"] == (f"{day.minutes_since_dose} min" if in_observation else "–")
        assert (row["check_label"], row["check_status"]) == ((check.label, check.status) if check else ("", ""))
        assert row["gate_missing"] == (day.board_gate.missing if day.board_gate else None)
        assert row["flags"] == (latest.flags if latest else [])
        assert row["vitals"].startswith(f"{latest.systolic}/{latest.diastolic} ·" if latest else "")
        assert bool(row["discharged"]) == (day.discharge is not None)
        assert row["ride_unconfirmed"] == (not day.transport_confirmed)

    # The states above are the ones meant: the comparison is not vacuous.
    row = {r["url"]: r for r in board["rows"]}

    def row_of(session):
        return row[reverse("monitoring:session-day", args=[session.pk])]

    assert row_of(no_ride)["ride_unconfirmed"] and row_of(no_ride)["status"] == "booked"
    assert [row_of(s)["dosing_blocked"] for s in (incomplete, high_bp, overridden, ready)] == [True, True, False, False]
    assert (row_of(overdue)["check_label"], row_of(overdue)["check_status"]) == ("40-minute check", "overdue")
    assert row_of(corrected)["vitals"].startswith("128/82 ·") and row_of(corrected)["flags"] == []
    assert row_of(in_range)["gate_missing"] == ()
    assert row_of(out_of_range)["gate_missing"] == (
        "Before-discharge vitals out of range (Low SpO2): take a new reading or ask a prescriber to override",
    )
    assert row_of(accepted)["gate_missing"] == ()
    assert row_of(discharged)["discharged"] == "11:16"


def test_the_site_pickers_of_board_and_reports_list_every_site_and_mark_the_one_shown(
    client_for, nurse, administrator, site
):
    other = factories.make_site('Oak & "Elm"')
    for user, url in ((nurse, reverse("monitoring:board")), (administrator, reverse("monitoring:reports"))):
        page = client_for(user).get(url, {"site": other.pk}).content.decode()
        assert f'<option value="{other.pk}" selected>Oak &amp; &quot;Elm&quot;</option>' in page
        assert f'<option value="{site.pk}">Riverside</option>' in page
        assert page.count(" selected>") == 1
