"""A REMS monitoring record can always be completed: a missing field is added afterwards as an
addendum (who, when, why). A fact of the day remembered after the discharge is an addendum too."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from clinic.models import AuditEvent
from monitoring.models import Addendum, Discharge, RemsSubmission
from tests.monitoring.conftest import DAY_START

pytestmark = pytest.mark.django_db

READY_LABEL = "Minutes until the patient would have been ready to leave"
NEXT_DAY = DAY_START + dt.timedelta(days=1)


def url(name, session):
    return reverse(f"monitoring:{name}", args=[session.pk])


@pytest.fixture
def not_ready(session, run_to_discharge):
    """Discharged with "would have been ready" left empty."""
    run_to_discharge(session)
    Discharge.objects.filter(observation__session=session).update(would_have_been_ready_at=None)
    return session


def test_a_missing_field_is_added_afterwards_and_the_record_completes(client_for, administrator, not_ready):
    client = client_for(administrator)
    with time_machine.travel(NEXT_DAY, tick=False):
        page = client.get(url("rems-record", not_ready))
        assert page.context["record"].missing == [READY_LABEL]
        assert "Add a missing field afterwards" in page.content.decode()
        response = client.post(
            url("rems-addendum", not_ready),
            {"field": READY_LABEL, "value": "95", "reason": "Left empty at discharge; from the nursing notes"},
        )
        assert response.status_code == 302
        page = client.get(url("rems-record", not_ready))
    record = page.context["record"]
    assert record.complete
    values = {f.label: f.value for f in record.fields}
    assert values[READY_LABEL] == "95"
    assert "from the nursing notes" in page.content.decode()
    addendum = Addendum.objects.get(session=not_ready)
    assert addendum.recorded_by == administrator and addendum.recorded_at == NEXT_DAY
    assert AuditEvent.objects.filter(object_type="addendum", object_id=str(addendum.pk), action="create").exists()
    with time_machine.travel(NEXT_DAY, tick=False):
        response = client.post(url("rems-submit", not_ready), {"submitted_on": "2026-11-18"})
    assert response.status_code == 302 and RemsSubmission.objects.filter(session=not_ready).exists()


def test_an_incomplete_record_cannot_be_marked_submitted(client_for, administrator, not_ready):
    with time_machine.travel(NEXT_DAY, tick=False):
        response = client_for(administrator).post(url("rems-submit", not_ready), {"submitted_on": "2026-11-18"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "The monitoring record is incomplete" in page
    assert READY_LABEL in page
    assert not RemsSubmission.objects.filter(session=not_ready).exists()


@pytest.mark.parametrize(
    ("data", "field", "code"),
    [
        ({"field": READY_LABEL, "value": "soon", "reason": "Notes"}, "value", "minutes"),
        ({"field": READY_LABEL, "value": "400", "reason": "Notes"}, "value", "minutes"),
        ({"field": READY_LABEL, "value": "95", "reason": ""}, "reason", "required"),
        ({"field": "Lot number", "value": "X", "reason": "Notes"}, "field", "invalid_choice"),
        ({"field": READY_LABEL, "value": "9" * 300, "reason": "Notes"}, "value", "max_length"),
    ],
)
def test_a_bad_addendum_is_refused_beside_its_field(client_for, administrator, not_ready, data, field, code):
    with time_machine.travel(NEXT_DAY, tick=False):
        response = client_for(administrator).post(url("rems-addendum", not_ready), data)
    assert response.status_code == 200
    assert response.context["addendum_form"].has_error(field, code=code)
    assert not Addendum.objects.exists()


def test_a_field_that_is_not_missing_cannot_be_overwritten(administrator, session, run_to_discharge):
    from django.core.exceptions import ValidationError

    from monitoring import services

    run_to_discharge(session)
    with pytest.raises(ValidationError) as refused:
        services.addendum_record(session=session, user=administrator, field=READY_LABEL, value="10", reason="x")
    assert refused.value.error_dict["field"][0].code == "not_missing"
    assert not Addendum.objects.exists()


def test_nurses_do_not_complete_the_rems_record(client_for, nurse, not_ready):
    response = client_for(nurse).post(url("rems-addendum", not_ready), {"field": READY_LABEL, "value": "95"})
    assert response.status_code == 403
    assert not Addendum.objects.exists()


def test_a_fact_remembered_after_the_discharge_is_an_addendum_on_the_record(
    client_for, nurse, administrator, session, run_to_discharge
):
    run_to_discharge(session)
    client = client_for(nurse)
    with time_machine.travel(DAY_START + dt.timedelta(hours=3), tick=False):
        refused = client.post(url("session-addendum", session), {"value": "Mild headache at 10:30", "reason": ""})
        assert refused.status_code == 200 and refused.context["addendum_form"].has_error("reason")
        response = client.post(
            url("session-addendum", session),
            {"value": "Mild headache at 10:30, settled", "reason": "Told by the patient's partner on the phone"},
        )
        assert response.status_code == 302
        page = client.get(url("session-day", session)).content.decode()
        rems = client_for(administrator).get(url("rems-record", session)).content.decode()
    assert "Mild headache at 10:30, settled" in page and "Mild headache at 10:30, settled" in rems
    assert Addendum.objects.get(session=session).field == ""


def test_no_addendum_before_the_discharge(client_for, nurse, session, run_to_observation):
    run_to_observation(session)
    with time_machine.travel(DAY_START + dt.timedelta(minutes=30), tick=False):
        response = client_for(nurse).post(url("session-addendum", session), {"value": "Fact", "reason": "Why"})
    assert response.status_code == 200
    assert "Addenda are added after the discharge" in response.content.decode()
    assert not Addendum.objects.exists()
