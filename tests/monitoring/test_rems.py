import datetime as dt

import pytest
import time_machine
from django.db import reset_queries
from django.urls import reverse

from monitoring.models import RemsSubmission
from tests.monitoring.conftest import DAY_START, NORMAL

pytestmark = pytest.mark.django_db

DOSED = DAY_START + dt.timedelta(minutes=10)


@pytest.fixture
def discharged(session, run_to_discharge):
    return run_to_discharge(session, dosed_at=DOSED, checkpoint_values={**NORMAL, "systolic": 150})


def test_the_record_is_assembled_with_the_right_minutes(client_for, administrator, discharged):
    with time_machine.travel(DAY_START + dt.timedelta(days=1), tick=False):
        response = client_for(administrator).get(reverse("monitoring:rems-record", args=[discharged.pk]))
    assert response.status_code == 200
    record = response.context["record"]
    values = {f.label: f.value for f in record.fields}
    assert values["Total minutes from first device to end of monitoring"] == 126
    assert values["Minutes until the patient would have been ready to leave"] == 95
    assert values["BP before dosing"] == "128/82"
    assert values["BP at 40 minutes"] == "150/82"
    assert values["BP before discharge"] == "128/82"
    assert values["Dose"] == "56 mg" and values["Lot number"] == "LOT42"
    assert values["Vital signs in range before discharge"] == "Yes"
    assert values["Serious adverse events"] == "None"
    assert record.missing == []
    assert record.days_left == 6
    assert "6 days left of 7" in response.content.decode()


def test_missing_fields_are_marked(client_for, administrator, session, run_to_observation):
    run_to_observation(session, dosed_at=DOSED)
    with time_machine.travel(DOSED + dt.timedelta(minutes=30), tick=False):
        response = client_for(administrator).get(reverse("monitoring:rems-record", args=[session.pk]))
    record = response.context["record"]
    assert "BP before discharge" in record.missing
    assert "Total minutes from first device to end of monitoring" in record.missing
    assert "Missing" in response.content.decode()


def test_an_administrator_marks_it_submitted_and_it_leaves_the_worklist(client_for, administrator, discharged):
    client = client_for(administrator)
    with time_machine.travel(DAY_START + dt.timedelta(days=2), tick=False):
        worklist = client.get(reverse("monitoring:rems-worklist")).content.decode()
        assert discharged.patient.full_name in worklist
        response = client.post(
            reverse("monitoring:rems-submit", args=[discharged.pk]), {"submitted_on": "2026-11-19", "reference": "C-77"}
        )
        assert response.status_code == 302
        assert discharged.patient.full_name not in client.get(reverse("monitoring:rems-worklist")).content.decode()
    submission = RemsSubmission.objects.get(session=discharged)
    assert submission.submitted_by == administrator and submission.submitted_on == dt.date(2026, 11, 19)


def test_nurses_cannot_mark_a_record_submitted(client_for, nurse, discharged):
    response = client_for(nurse).post(
        reverse("monitoring:rems-submit", args=[discharged.pk]), {"submitted_on": "2026-11-17"}
    )
    assert response.status_code == 403
    assert not RemsSubmission.objects.exists()


def test_the_worklist_tells_a_first_treatment_from_a_later_one_in_fixed_queries(
    client_for, administrator, discharged, make_session, run_to_discharge, patient, django_assert_max_num_queries
):
    client = client_for(administrator)
    url = reverse("monitoring:rems-worklist")
    with time_machine.travel(DAY_START + dt.timedelta(days=2), tick=False):
        client.get(url)  # warm the session and permission caches
        reset_queries()  # a request empties the query log as it starts: count from an empty log
        with django_assert_max_num_queries(30) as few:
            client.get(url)
        few = len(few.captured_queries)  # read now: the next request empties the log it is read from
    later_start = DAY_START + dt.timedelta(days=1)
    later = run_to_discharge(make_session(patient, start=later_start), dosed_at=later_start)
    with time_machine.travel(DAY_START + dt.timedelta(days=2), tick=False):
        reset_queries()
        with django_assert_max_num_queries(few):
            response = client.get(url)
    first = {r.session.pk: {f.label: f.value for f in r.fields} for r in response.context["records"]}
    assert first[discharged.pk]["First treatment"] == "Yes"
    assert first[later.pk]["First treatment"] == "No"
