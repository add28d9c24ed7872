import datetime as dt

import pytest
import time_machine
from django.db import reset_queries
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
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page  # the rows are escaped by Jinja2
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


# Per board request, whatever the number of chairs and sessions: the session and the signed-in
# user with their access, the sites, the thresholds, the ids of the day's sessions, the
# sessions with their chair, patient, protocol, ride, check-in, observation with its discharge
# and dose (one read), their readings, their overrides, the doses' devices, the open alerts,
# and the page view's audit row (two statements); in tests the request's transaction is a
# savepoint and its release.
BOARD_QUERIES = 15


def test_the_board_for_twenty_chairs_issues_a_fixed_number_of_queries(
    client_for, nurse, site, make_session, django_assert_max_num_queries
):
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
            # A request empties the query log as it starts: counted from an empty log, every
            # statement of the request is captured.
            reset_queries()
            with django_assert_max_num_queries(BOARD_QUERIES) as ctx:
                response = client.get(reverse("monitoring:board"))
        assert response.status_code == 200
        return [q["sql"] for q in ctx.captured_queries], response.content.decode()

    fill(chairs[:2])
    few, page = count_queries()
    assert page.count("Dosing blocked") == 2
    fill(chairs[2:])
    assert len(chairs) == 20
    many, page = count_queries()
    assert page.count("Dosing blocked") == 20
    assert len(many) == len(few), many


def _rows(page: str) -> dict[str, str]:
    """Each table row of the board by the link to its session day."""
    rows = {}
    for chunk in page.split('<tr class="status-')[1:]:
        row = chunk.split("</tr>")[0]
        href = row.split('<a href="')[1].split('"')[0]
        rows[href] = row
    return rows


def test_the_board_shows_each_sessions_day_as_its_session_page_does(
    client, nurse, prescriber, site, make_session, run_to_observation, run_to_discharge, django_assert_max_num_queries
):
    """Sessions in every state of the day: the board's row and the session-day page show the
    same decisions."""
    from monitoring.models import VitalsReading
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
    sessions = [
        no_ride,
        incomplete,
        high_bp,
        overridden,
        ready,
        overdue,
        corrected,
        in_range,
        out_of_range,
        accepted,
        discharged,
    ]

    for s in sessions:
        s.refresh_from_db()
    with time_machine.travel(later, tick=False):
        client.force_login(nurse)
        client.get(reverse("monitoring:board"))  # warm the session and permission caches
        reset_queries()  # see test_the_board_for_twenty_chairs_issues_a_fixed_number_of_queries
        with django_assert_max_num_queries(BOARD_QUERIES):
            rows = _rows(client.get(reverse("monitoring:board")).content.decode())
        pages = {s.pk: client.get(reverse("monitoring:session-day", args=[s.pk])).content.decode() for s in sessions}

    def row_of(session):
        return rows[reverse("monitoring:session-day", args=[session.pk])]

    assert len(rows) == len(sessions)
    for s in sessions:
        row, page = row_of(s), pages[s.pk]
        assert ("Dosing blocked" in row) == (s.status == "checked_in" and 'id="dosing-blocked"' in page), s

    # Booked, no ride: nothing to decide on the board yet.
    assert "Booked" in row_of(no_ride) and "Dosing blocked" not in row_of(no_ride)
    assert "none recorded" in pages[no_ride.pk]  # the ride home
    # Dosing: blocked by the checklist or the BP, lifted by an override, or free to start.
    assert [("Dosing blocked" in row_of(s)) for s in (incomplete, high_bp, overridden, ready)] == [
        True,
        True,
        False,
        False,
    ]
    assert "Pre-dose checklist: no food for the last 2 hours" in pages[incomplete.pk]
    assert "No pre-dose vitals recorded yet" in pages[incomplete.pk]
    assert "BP 152/82 is above 140/90" in pages[high_bp.pk]
    assert "Repeat BP 138/86" in pages[overridden.pk] and "dosing may start" in pages[overridden.pk]
    assert "Pre-dose checks passed: dosing may start." in pages[ready.pk]
    # Observation: minutes since the dose and the next checkpoint.
    assert "50 min" in row_of(overdue) and "50 minutes ago" in pages[overdue.pk]
    assert "40-minute check 12:50" in row_of(overdue) and "Overdue" in row_of(overdue)
    assert "Before-discharge check 14:00" in row_of(corrected) and "Overdue" not in row_of(corrected)
    # A corrected reading is replaced by its correction.
    assert "128/82 ·" in row_of(corrected) and "218/82" not in row_of(corrected)
    assert "badge flag" not in row_of(corrected)
    # The discharge gate as stored: the 120 minutes and the before-discharge vitals.
    assert "Ready for discharge checks" in row_of(in_range)
    message = "Before-discharge vitals out of range (Low SpO2): take a new reading or ask a prescriber to override"
    assert message in row_of(out_of_range) and message in pages[out_of_range.pk]
    assert "Low SpO2" in row_of(out_of_range) and "flag-critical" in row_of(out_of_range)
    assert "Ready for discharge checks" in row_of(accepted) and message not in pages[accepted.pk]
    assert "Baseline SpO2 91 on air" in pages[accepted.pk]
    assert "120 minutes of observation end at 14:10" in row_of(overdue)
    assert "120 minutes of observation end at 14:10" in pages[overdue.pk]
    # Discharged.
    assert "Discharged 11:16" in row_of(discharged) and "Discharged at 11:16" in pages[discharged.pk]


def test_a_ride_not_confirmed_is_shown_while_the_patient_is_observed(client_for, nurse, session, run_to_observation):
    from scheduling.models import TransportArrangement

    run_to_observation(session)
    TransportArrangement.objects.filter(session=session).update(status="unconfirmed")
    with time_machine.travel(DAY_START + dt.timedelta(minutes=62), tick=False):
        page = client_for(nurse).get(reverse("monitoring:board")).content.decode()
    assert "Ride home not confirmed" in _rows(page)[reverse("monitoring:session-day", args=[session.pk])]


def test_the_site_pickers_of_board_and_reports_list_every_site_and_mark_the_one_shown(
    client_for, nurse, administrator, site
):
    other = factories.make_site('Oak & "Elm"')
    for user, url in ((nurse, reverse("monitoring:board")), (administrator, reverse("monitoring:reports"))):
        page = client_for(user).get(url, {"site": other.pk}).content.decode()
        assert f'<option value="{other.pk}" selected>Oak &amp; &quot;Elm&quot;</option>' in page
        assert f'<option value="{site.pk}">Riverside</option>' in page
        assert page.count(" selected>") == 1
