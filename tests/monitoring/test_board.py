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
