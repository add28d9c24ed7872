"""The nurse's flow through the session-day page: check-in, pre-dose gate, override, dose,
readings with flags and corrections."""

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinic.models import AuditEvent, StaffAlert
from monitoring import selectors, services
from monitoring.models import (
    CheckIn,
    ClinicalThresholds,
    DeviceAdministration,
    DoseRecord,
    PrescriberOverride,
    VitalsReading,
    current_thresholds,
)
from scheduling.models import Session
from tests.monitoring.conftest import CHECKLIST_ALL, DAY_START, NORMAL, vitals_post

pytestmark = pytest.mark.django_db

AT_0905 = DAY_START + dt.timedelta(minutes=5)


def url(name, session, **kw):
    return reverse(f"monitoring:{name}", kwargs={"pk": session.pk, **kw})


def check_in_post(**overrides):
    data = dict.fromkeys(CHECKLIST_ALL, "on")
    data.update(overrides)
    return data


def checked_in(session, nurse):
    with time_machine.travel(AT_0905, tick=False):
        services.session_check_in(session=session, user=nurse, checklist=CHECKLIST_ALL)
    return session


@time_machine.travel(AT_0905, tick=False)
def test_it_checks_in_with_the_checklist(client_for, nurse, session):
    response = client_for(nurse).post(url("check-in", session), check_in_post(arrived_at="09:03"))
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.status == "checked_in"
    checkin = CheckIn.objects.get(session=session)
    assert checkin.checklist_missing() == []
    assert checkin.arrived_at == DAY_START + dt.timedelta(minutes=3)
    assert AuditEvent.objects.filter(object_type="checkin", patient=session.patient).exists()


@time_machine.travel(AT_0905, tick=False)
def test_an_unconfirmed_ride_keeps_the_checklist_incomplete_until_recorded(client_for, nurse, make_session, patient):
    session = make_session(patient, ride="unconfirmed")
    client = client_for(nurse)
    client.post(url("check-in", session), check_in_post())
    assert CheckIn.objects.get(session=session).checklist_missing() == ["ride home confirmed"]
    page = client.get(url("session-day", session)).content.decode()
    assert "Dosing blocked" in page
    assert "Pre-dose checklist: ride home confirmed" in page

    client.post(
        url("check-in", session),
        check_in_post(transport_kind="escort", transport_name="Sam Lee", transport_phone="+12125550111"),
    )
    assert CheckIn.objects.get(session=session).checklist_missing() == []
    session.transport.refresh_from_db()
    assert session.transport.name == "Sam Lee" and session.transport.status == "confirmed_staff"


@time_machine.travel(AT_0905, tick=False)
def test_high_predose_bp_blocks_dosing_with_the_reason(client_for, nurse, session):
    checked_in(session, nurse)
    client = client_for(nurse)
    client.post(url("vitals-record", session), vitals_post(checkpoint="pre_dose", systolic=152, diastolic=94))
    page = client.get(url("session-day", session)).content.decode()
    assert "Dosing blocked" in page
    assert "BP 152/94 is above 140/90" in page

    response = client.post(url("dose-record", session), {"dose_mg": "56", "lot_number": "L1"})
    assert response.status_code == 200
    assert "Dosing blocked" in response.content.decode()
    assert not DoseRecord.objects.filter(session=session).exists()
    session.refresh_from_db()
    assert session.status == "checked_in"


@time_machine.travel(AT_0905, tick=False)
def test_override_needs_the_prescriber_role(client_for, nurse, session):
    checked_in(session, nurse)
    services.vitals_record(session=session, user=nurse, kind="pre_dose", values={**NORMAL, "systolic": 150})
    response = client_for(nurse).post(url("predose-override", session), {"reason": "Nurse thinks it is fine"})
    assert response.status_code == 403
    assert not PrescriberOverride.objects.exists()


@time_machine.travel(AT_0905, tick=False)
def test_override_needs_a_reason(client_for, nurse, prescriber, session):
    checked_in(session, nurse)
    services.vitals_record(session=session, user=nurse, kind="pre_dose", values={**NORMAL, "systolic": 150})
    response = client_for(prescriber).post(url("predose-override", session), {"reason": "  "})
    assert response.status_code == 200
    assert not PrescriberOverride.objects.exists()


@time_machine.travel(AT_0905, tick=False)
def test_a_prescriber_override_lets_the_nurse_dose_and_is_shown(client, nurse, prescriber, session):
    checked_in(session, nurse)
    services.vitals_record(session=session, user=nurse, kind="pre_dose", values={**NORMAL, "systolic": 150})
    client.force_login(prescriber)
    response = client.post(url("predose-override", session), {"reason": "Anxious on arrival; repeat BP 146/88"})
    assert response.status_code == 302
    override = PrescriberOverride.objects.get(session=session)
    assert override.prescriber == prescriber
    client.force_login(nurse)
    response = client.post(url("dose-record", session), {"dose_mg": "56", "lot_number": "LOT42"})
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.status == "in_observation"
    page = client.get(url("session-day", session)).content.decode()
    assert "Anxious on arrival; repeat BP 146/88" in page


@time_machine.travel(AT_0905, tick=False)
def test_a_new_high_predose_reading_needs_a_new_override(nurse, prescriber, session):
    checked_in(session, nurse)
    services.vitals_record(session=session, user=nurse, kind="pre_dose", values={**NORMAL, "systolic": 150})
    services.predose_override(session=session, user=prescriber, reason="Reviewed")
    assert services.dosing_blocks(session) == []
    services.vitals_record(session=session, user=nurse, kind="pre_dose", values={**NORMAL, "systolic": 170})
    assert services.dosing_blocks(session) == [
        "BP 170/82 is above 140/90: a prescriber must override with a written reason"
    ]


def test_esketamine_devices_keep_the_five_minute_rest(client_for, nurse, session, run_to_observation):
    run_to_observation(session, devices=1)
    client = client_for(nurse)
    dose = DoseRecord.objects.get(session=session)
    assert dose.devices_planned == 2 and dose.lot_number == "LOT42"
    with time_machine.travel(DAY_START + dt.timedelta(minutes=14), tick=False):
        page = client.get(url("session-day", session)).content.decode()
        assert "data-countdown-until" in page
        response = client.post(url("device-record", session), {})
        assert response.status_code == 200
        assert "Wait 5 minutes between devices" in response.content.decode()
    with time_machine.travel(DAY_START + dt.timedelta(minutes=15), tick=False):
        assert client.post(url("device-record", session), {}).status_code == 302
    assert list(DeviceAdministration.objects.filter(dose=dose).values_list("number", flat=True)) == [1, 2]


def test_observation_starts_at_the_first_device(session, run_to_observation):
    run_to_observation(session, dosed_at=DAY_START + dt.timedelta(minutes=12))
    assert session.status == "in_observation"
    assert session.observation.started_at == DAY_START + dt.timedelta(minutes=12)


def test_iv_ketamine_dose_records_weight_and_total(nurse, make_session, patient, iv_protocol):
    from decimal import Decimal

    session = make_session(patient, protocol_=iv_protocol, dose="36")
    with time_machine.travel(AT_0905, tick=False):
        checked_in(session, nurse)
        services.vitals_record(session=session, user=nurse, kind="pre_dose", values=NORMAL)
        dose = services.dose_record(
            session=session,
            user=nurse,
            dose_mg=Decimal("0"),
            weight_kg=Decimal("80"),
            mg_per_kg=Decimal("0.5"),
            started_at=AT_0905,
        )
    assert dose.dose_mg == Decimal("40.0") and dose.infusion_start == AT_0905
    with time_machine.travel(AT_0905 + dt.timedelta(minutes=40), tick=False):
        services.dose_infusion_end(session=session, user=nurse, ended_at=AT_0905 + dt.timedelta(minutes=40))
    dose.refresh_from_db()
    assert dose.infusion_end == AT_0905 + dt.timedelta(minutes=40)


def test_impossible_values_are_refused_with_a_clear_error(client_for, nurse, session, run_to_observation):
    run_to_observation(session)
    with time_machine.travel(DAY_START + dt.timedelta(minutes=50), tick=False):
        response = client_for(nurse).post(url("vitals-record", session), vitals_post(checkpoint="m40", spo2=101))
        assert response.status_code == 200
        assert "SpO2 must be between 50 and 100." in response.content.decode()
        response = client_for(nurse).post(
            url("vitals-record", session), vitals_post(checkpoint="m40", systolic=90, diastolic=95)
        )
        assert "Diastolic BP must be lower than systolic BP." in response.content.decode()
    assert VitalsReading.objects.filter(session=session).count() == 1  # the pre-dose reading only


def test_a_checkpoint_reading_is_saved_with_its_audit_row(client_for, nurse, session, run_to_observation):
    run_to_observation(session)
    with time_machine.travel(DAY_START + dt.timedelta(minutes=50), tick=False):
        response = client_for(nurse).post(
            url("vitals-record", session), vitals_post(checkpoint="m40", taken_at="09:49")
        )
    assert response.status_code == 302 and response["Location"] == url("session-day", session)
    reading = VitalsReading.objects.get(session=session, kind="checkpoint")
    assert reading.checkpoint_minute == 40 and reading.flags == [] and reading.recorded_by == nurse
    assert reading.taken_at == DAY_START + dt.timedelta(minutes=49)
    event = AuditEvent.objects.get(object_type="vitalsreading", object_id=str(reading.pk))
    assert event.action == "create" and event.patient_id == session.patient_id and event.user == nurse
    assert not StaffAlert.objects.exists()


def test_a_reading_reads_its_session_once_under_the_row_lock(client_for, nurse, session):
    checked_in(session, nurse)
    client = client_for(nurse)
    with time_machine.travel(AT_0905, tick=False), CaptureQueriesContext(connection) as every:
        response = client.post(url("vitals-record", session), vitals_post(checkpoint="pre_dose"))
    assert response.status_code == 302 and VitalsReading.objects.filter(session=session, kind="pre_dose").exists()
    sql = [q["sql"] for q in every]
    reads = [q for q in sql if q.startswith("SELECT") and 'FROM "scheduling_session"' in q]
    assert len(reads) == 1 and reads[0].endswith('FOR UPDATE OF "scheduling_session"')
    # The reading joins the request's transaction: no savepoint of its own between the read
    # and the audit row (the test runs requests inside its own transaction, hence the others).
    audit = next(i for i, q in enumerate(sql) if "clinic_audit_chain_head" in q)
    assert not [q for q in sql[sql.index(reads[0]) : audit] if "SAVEPOINT" in q]


def _loaded(obj):
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def test_the_session_read_for_a_reading_loads_what_the_orm_loads(
    django_assert_num_queries, nurse, session, make_session, patient, run_to_observation
):
    """The vitals POST's plain read of its session gives the instances select_related gives,
    with or without an observation, and with no course, and the thresholds in force."""
    run_to_observation(session)
    unbooked = make_session(patient, start=DAY_START + dt.timedelta(days=1))
    Session.objects.filter(pk=unbooked.pk).update(course=None)
    related = ("chair__site", "course__protocol", "observation")
    ClinicalThresholds.objects.filter(pk=1).update(systolic_high=151)
    in_force = current_thresholds()
    assert in_force.systolic_high == 151
    for pk in (session.pk, unbooked.pk):
        expected = Session.objects.select_related(*related).get(pk=pk)
        with transaction.atomic(), django_assert_num_queries(1):
            loaded, thresholds = selectors.session_for_reading(pk)
            assert thresholds == in_force
            assert _loaded(loaded) == _loaded(expected)
            assert _loaded(loaded.chair) == _loaded(expected.chair)
            assert _loaded(loaded.chair.site) == _loaded(expected.chair.site)
            assert loaded.local_start() == expected.local_start()
            if expected.course_id:
                assert _loaded(loaded.course) == _loaded(expected.course)
                assert _loaded(loaded.course.protocol) == _loaded(expected.course.protocol)
                assert _loaded(loaded.observation) == _loaded(expected.observation)
                assert loaded.observation.session is loaded
            else:
                assert loaded.course is None
                with pytest.raises(Session.observation.RelatedObjectDoesNotExist):
                    loaded.observation  # noqa: B018 - known to be absent: no query
    assert selectors.session_for_reading(unbooked.pk + 1000) is None
    # No thresholds row yet: the defaults, stored as the row (as current_thresholds does).
    ClinicalThresholds.objects.all().delete()
    with transaction.atomic():
        assert selectors.session_for_reading(session.pk)[1] == ClinicalThresholds().as_rules()
    assert ClinicalThresholds.objects.filter(pk=1).exists()


def test_a_reading_for_a_session_that_does_not_exist_is_not_found(client_for, nurse, session):
    response = client_for(nurse).post(
        reverse("monitoring:vitals-record", kwargs={"pk": session.pk + 1000}), vitals_post()
    )
    assert response.status_code == 404
    assert not VitalsReading.objects.exists()


def test_a_refused_reading_leaves_the_callers_transaction_usable(nurse, session):
    """Refusals come before the first write, so the view can still read for its error page."""
    checked_in(session, nurse)
    with transaction.atomic():
        locked = Session.objects.select_for_update(of=("self",)).get(pk=session.pk)
        with pytest.raises(ValidationError, match="Observation checkpoints start with the first dose"):
            services.vitals_record(
                session=locked, user=nurse, kind="checkpoint", checkpoint_minute=40, values=NORMAL, locked=True
            )
        with pytest.raises(ValidationError, match="Enter a value"):
            services.vitals_record(session=locked, user=nurse, kind="pre_dose", values={}, locked=True)
        assert not VitalsReading.objects.filter(session=session).exists()  # the transaction still answers


def test_only_the_readings_the_session_is_at_are_accepted(client_for, nurse, session, run_to_observation):
    client = client_for(nurse)
    with time_machine.travel(AT_0905, tick=False):
        checked_in(session, nurse)
        response = client.post(url("vitals-record", session), vitals_post(checkpoint="m40"))
        assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not VitalsReading.objects.exists()
    run_to_observation(session)
    client = client_for(nurse)  # signed in again: the idle timeout has passed
    with time_machine.travel(DAY_START + dt.timedelta(minutes=50), tick=False):
        for checkpoint in ("pre_dose", "m55"):
            response = client.post(url("vitals-record", session), vitals_post(checkpoint=checkpoint))
            assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
        assert client.post(url("vitals-record", session), vitals_post(checkpoint="discharge")).status_code == 302
    assert list(VitalsReading.objects.values_list("kind", flat=True)) == ["pre_dose", "discharge"]


def test_a_flagged_reading_is_saved_labelled_and_alerts_the_nurses(client_for, nurse, session, run_to_observation):
    run_to_observation(session)
    client = client_for(nurse)
    with time_machine.travel(DAY_START + dt.timedelta(minutes=50), tick=False):
        response = client.post(url("vitals-record", session), vitals_post(checkpoint="m40", spo2=90))
        assert response.status_code == 302
        reading = VitalsReading.objects.get(session=session, checkpoint_minute=40)
        assert [f["label"] for f in reading.flags] == ["Low SpO2"]
        alert = StaffAlert.objects.get(kind="vitals_out_of_range")
        assert alert.severity == "critical" and alert.session_id == session.pk
        assert "Low SpO2" in alert.message
        page = client.get(url("session-day", session)).content.decode()
        assert "flag-critical" in page and "Low SpO2" in page
        board = client.get(reverse("monitoring:board")).content.decode()
        assert "Low SpO2" in board and "flag-critical" in board


def test_a_correction_keeps_both_readings(client_for, nurse, session, run_to_observation):
    run_to_observation(session)
    client = client_for(nurse)
    with time_machine.travel(DAY_START + dt.timedelta(minutes=50), tick=False):
        services.vitals_record(
            session=session, user=nurse, kind="checkpoint", checkpoint_minute=40, values={**NORMAL, "systolic": 218}
        )
        original = VitalsReading.objects.get(checkpoint_minute=40)
        response = client.post(
            url("vitals-correct", session, reading_pk=original.pk),
            vitals_post(systolic=128, reason="Typed 218 instead of 128"),
        )
        assert response.status_code == 302
        page = client.get(url("session-day", session)).content.decode()
    readings = VitalsReading.objects.filter(session=session, checkpoint_minute=40).order_by("pk")
    assert [r.systolic for r in readings] == [218, 128]
    corrected = readings[1]
    assert corrected.supersedes == original and corrected.correction_reason == "Typed 218 instead of 128"
    # The compliance report relies on this: a correction is of the same kind and checkpoint.
    assert (corrected.kind, corrected.checkpoint_minute) == (original.kind, original.checkpoint_minute)
    assert "218/82" in page and "128/82" in page and "Typed 218 instead of 128" in page


def test_a_correction_needs_a_reason(client_for, nurse, session, run_to_observation):
    run_to_observation(session)
    original = VitalsReading.objects.get(session=session)
    response = client_for(nurse).post(url("vitals-correct", session, reading_pk=original.pk), vitals_post(reason=""))
    assert response.status_code == 200
    assert VitalsReading.objects.count() == 1


def test_readings_cannot_be_edited_in_the_database(nurse, session, run_to_observation):
    from django.db import DatabaseError, transaction

    run_to_observation(session)
    with pytest.raises(DatabaseError), transaction.atomic():
        VitalsReading.objects.filter(session=session).update(systolic=120)


def test_schedulers_cannot_enter_vitals(client_for, scheduler, nurse, session):
    checked_in(session, nurse)
    response = client_for(scheduler).post(url("vitals-record", session), vitals_post(checkpoint="pre_dose"))
    assert response.status_code == 403
    assert not VitalsReading.objects.exists()
    page = client_for(scheduler).get(url("session-day", session)).content.decode()
    assert "Save reading" not in page


def test_administrators_see_but_do_not_record(client_for, administrator, session):
    assert client_for(administrator).get(url("session-day", session)).status_code == 200
    assert client_for(administrator).post(url("check-in", session), check_in_post()).status_code == 403


@pytest.mark.parametrize(
    ("role", "perms"),
    [
        ("scheduler", {"view_board"}),
        ("nurse", {"view_board", "record_vitals"}),
        ("prescriber", {"view_board", "record_vitals", "override_block"}),
        ("administrator", {"view_board", "view_reports", "submit_rems"}),
    ],
)
def test_each_role_holds_its_session_day_permissions(personas, role, perms):
    codenames = {"view_board", "record_vitals", "override_block", "view_reports", "submit_rems"}
    granted = set(
        Permission.objects.filter(
            group__user=personas[role], content_type__app_label="monitoring", codename__in=codenames
        ).values_list("codename", flat=True)
    )
    assert granted == perms


# Per session-day request, whatever the number of readings, corrections, devices and events:
# the session and the signed-in user with their access, the session with its chair, site and
# patient, the thresholds, the session with its course and protocol, its ride, check-in,
# observation and dose, its effective readings, its overrides, its REMS submission, its adverse
# events, its devices, its devices entered late (for the REMS record), every reading with who
# recorded it, the page view's audit row (two statements); in tests the request's savepoint and
# its release; the outcome scores with their safety reviews, the protocol's measurement plan and
# the clinician rating schedule (four).
SESSION_DAY_QUERIES = 25


def test_the_session_day_page_issues_a_fixed_number_of_queries(
    client, nurse, session, run_to_observation, django_assert_max_num_queries
):
    from django.db import reset_queries

    run_to_observation(session, devices=1)
    page = url("session-day", session)
    now = DAY_START + dt.timedelta(minutes=60)

    def count_queries():
        with time_machine.travel(now, tick=False):
            client.force_login(nurse)
            client.get(page)  # warm the session and permission caches
            reset_queries()  # a request empties the query log as it starts: count from an empty log
            with django_assert_max_num_queries(SESSION_DAY_QUERIES) as ctx:
                response = client.get(page)
        assert response.status_code == 200
        return [q["sql"] for q in ctx.captured_queries]

    few = count_queries()
    with time_machine.travel(now - dt.timedelta(minutes=10), tick=False):
        services.dose_device_record(session=session, user=nurse, administered_at=now - dt.timedelta(minutes=10))
        for systolic in (131, 133, 135):
            services.vitals_record(session=session, user=nurse, kind="extra", values={**NORMAL, "systolic": systolic})
        services.vitals_correct(
            reading=VitalsReading.objects.filter(session=session, kind="extra").first(),
            user=nurse,
            values=NORMAL,
            reason="Wrong cuff size",
        )
        services.adverse_event_record(
            session=session, user=nurse, kind="nausea_vomiting", severity="mild", action_taken="Bowl"
        )
    many = count_queries()
    assert len(many) == len(few), many
    assert VitalsReading.objects.filter(session=session).count() == 5


def test_every_write_of_the_session_day_audits_itself_in_its_service(nurse, prescriber, administrator, session):
    """Called from a task or the shell, a service still writes its audit row: who, what, which
    patient."""
    at = AT_0905
    with time_machine.travel(at, tick=False):
        checked_in(session, nurse)
        checkin = CheckIn.objects.get(session=session)
        high = services.vitals_record(session=session, user=nurse, kind="pre_dose", values={**NORMAL, "systolic": 150})
        corrected = services.vitals_correct(
            reading=high, user=nurse, values={**NORMAL, "systolic": 152}, reason="Typed 150 instead of 152"
        )
        override = services.predose_override(session=session, user=prescriber, reason="Repeat BP 138/86")
        dose = services.dose_record(session=session, user=nurse, dose_mg=56, lot_number="LOT42", started_at=at)
        event = services.adverse_event_record(
            session=session, user=nurse, kind="nausea_vomiting", severity="mild", action_taken="Bowl", onset_at=at
        )
    with time_machine.travel(at + dt.timedelta(minutes=5), tick=False):
        device = services.dose_device_record(session=session, user=nurse, administered_at=at + dt.timedelta(minutes=5))
    with time_machine.travel(at + dt.timedelta(minutes=41), tick=False):
        services.vitals_record(session=session, user=nurse, kind="checkpoint", checkpoint_minute=40, values=NORMAL)
    with time_machine.travel(at + dt.timedelta(minutes=118), tick=False):
        services.vitals_record(session=session, user=nurse, kind="discharge", values=NORMAL)
    with time_machine.travel(at + dt.timedelta(minutes=121), tick=False):
        discharge = services.observation_discharge(
            session=session,
            user=nurse,
            alert=True,
            oriented=True,
            steady=True,
            picked_up_by="Jordan Example",
            would_have_been_ready_at=at + dt.timedelta(minutes=100),
        )
        session.refresh_from_db()
        submission = services.rems_mark_submitted(session=session, user=administrator, submitted_on=at.date())
    expected = [
        (checkin, "create", nurse, {}),
        (high, "create", nurse, {}),
        (corrected, "create", nurse, {"corrects": high.pk, "kind": "pre_dose"}),
        (override, "create", prescriber, {}),
        (dose, "create", nurse, {}),
        (event, "create", nurse, {}),
        (device, "create", nurse, {"devices_planned": dose.devices_planned}),
        (discharge, "create", nurse, {}),
        (submission, "create", administrator, {}),
    ]
    for obj, action, user, summary in expected:
        event_row = AuditEvent.objects.get(object_type=obj._meta.model_name, object_id=str(obj.pk))
        # Each also carries the values it wrote (tests/clinic/test_audit_values.py checks them).
        others = {key: value for key, value in event_row.summary.items() if key != "changes"}
        assert (event_row.action, event_row.user, event_row.patient_id, others) == (
            action,
            user,
            session.patient_id,
            summary,
        ), obj
        assert event_row.summary["changes"], obj
