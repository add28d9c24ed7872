"""Every write of the schedule and the session day leaves an audit row with the values before and
after the change (``changes``: {field: [old, new]}), and the audit report says what changed in
words, with the old and new values."""

# ruff: noqa: F401, F811  (the schedule's and the session day's fixtures, imported by name)
import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinic.audit_words import describe
from clinic.models import AuditEvent
from monitoring import services as day_services
from scheduling import services
from scheduling.models import CourseReview, Protocol
from tests import factories
from tests.monitoring.conftest import CHECKLIST_ALL, DAY_START, NORMAL, iv_protocol, make_session, protocol
from tests.scheduling.booking_helpers import MONDAY, NY, at, book, chair, course, frozen_now

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def utc(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def row(obj, **summary) -> AuditEvent:
    rows = AuditEvent.objects.filter(object_type=obj._meta.model_name, object_id=str(obj.pk))
    for key, value in summary.items():
        rows = rows.filter(**{f"summary__{key}": value})
    return rows.get()


def words(event) -> str:
    return " | ".join(describe(event))


def audit_page(client, **params) -> str:
    response = client.get(reverse("clinic:audit"), params)
    assert response.status_code == 200
    return response.content.decode()


# --- The schedule -----------------------------------------------------------------------------


def test_a_booking_records_when_where_and_what(course, site, scheduler):
    session = book(course, chair(site, 2), at(MONDAY, 9), user=scheduler)
    event = row(session)
    assert event.summary["course"] == course.pk
    changes = event.summary["changes"]
    assert changes["start"] == [None, utc(at(MONDAY, 9))]
    assert changes["chair"] == [None, "Chair 2"]
    assert changes["status"] == [None, "booked"]
    assert changes["sequence"] == [None, 1]
    assert words(event).startswith("Booked Mon 1 Mar 09:00 in Chair 2 (session 1")


def test_a_move_through_the_page_records_the_old_and_new_chair_and_start(client_for, scheduler, course, site):
    session = book(course, chair(site, 2), at(MONDAY, 13))
    response = client_for(scheduler).post(
        reverse("scheduling:session-move", args=[session.pk]),
        {"date": MONDAY.isoformat(), "time": "14:00", "chair": chair(site, 3).pk, "version": session.version},
    )
    assert response.status_code == 302
    event = row(session, action="move")
    assert event.summary["changes"] == {
        "chair": ["Chair 2", "Chair 3"],
        "start": [utc(at(MONDAY, 13)), utc(at(MONDAY, 14))],
    }
    assert event.path == reverse("scheduling:session-move", args=[session.pk])
    assert describe(event) == ["Moved to Chair 3 (was Chair 2)", "Start Mon 1 Mar 14:00 (was 13:00)"]


def test_a_move_to_another_day_shows_the_old_day(course, site, scheduler):
    session = book(course, chair(site, 2), at(MONDAY, 9))
    services.session_move(
        session=session, start=at(MONDAY + dt.timedelta(days=1), 9), chair=chair(site, 2), version=None, user=scheduler
    )
    event = row(session, action="move")
    assert "chair" not in event.summary["changes"]
    assert describe(event) == ["Start Tue 2 Mar 09:00 (was Mon 1 Mar 09:00)"]


def test_a_cancellation_through_the_page_records_the_status_and_the_reason(
    client_for, scheduler, administrator, course, site
):
    session = book(course, chair(site, 1), at(MONDAY, 9))
    url = reverse("scheduling:session-cancel", args=[session.pk])
    assert client_for(scheduler).post(url, {"version": session.version, "reason": "Flu <b>"}).status_code == 302
    event = row(session, action="cancel")
    assert event.summary["changes"] == {"status": ["booked", "cancelled"], "cancel_reason": ["", "Flu <b>"]}
    assert describe(event) == ["Cancelled (was booked)", "Reason: Flu <b>"]
    page = audit_page(client_for(administrator), object_type="session", action="update")
    assert (
        '<span class="d-block">Cancelled (was booked)</span><span class="d-block">Reason: Flu &lt;b&gt;</span>' in page
    )


def test_a_no_show_records_the_status(course, site, scheduler):
    session = book(course, chair(site, 1), at(MONDAY, 9))
    with time_machine.travel(at(MONDAY, 12), tick=False):
        services.session_mark_no_show(session=session, version=None, user=scheduler)
    event = row(session, action="no_show")
    assert event.summary["changes"] == {"status": ["booked", "no_show"]}
    assert describe(event) == ["Marked no-show (was booked)"]


def test_a_ride_records_each_detail_that_changed(client_for, scheduler, course, site):
    session = book(course, chair(site, 1), at(MONDAY, 9))
    response = client_for(scheduler).post(
        reverse("scheduling:session-transport", args=[session.pk]),
        {"kind": "escort", "name": "Sam Lee", "phone": "+12125550111", "relationship": "Brother", "confirmed": "on"},
    )
    assert response.status_code == 302
    changes = row(session, action="transport").summary["changes"]
    assert changes["name"][1] == "Sam Lee" and changes["relationship"][1] == "Brother"
    assert changes["phone"][1] == "+12125550111"
    assert changes["status"] == ["unconfirmed", "confirmed_staff"]
    said = words(row(session, action="transport"))
    assert "Driver or service name: Sam Lee" in said
    assert "Status: Confirmed by staff (was Unconfirmed)" in said
    assert "(212) 555-0111" in said  # the phone as people dial it


def test_the_patient_confirming_through_the_link_records_the_ride(course, site):
    session = book(course, chair(site, 1), at(MONDAY, 9))
    transport = services.transport_confirm_by_patient(session=session, name="Alex Driver", phone="+12125550123")
    event = row(transport)
    assert event.actor == "patient"
    assert event.summary["changes"]["name"][1] == "Alex Driver"
    assert event.summary["changes"]["status"] == ["unconfirmed", "confirmed_patient"]
    assert "Status: Confirmed by patient (was Unconfirmed)" in words(event)


def test_starting_a_course_says_what_was_planned(patient, site, scheduler, frozen_now):
    factories.make_trd_history(patient, scheduler)
    trd = Protocol.objects.get(slug="esketamine-trd")
    started = services.course_confirm(
        patient=patient,
        protocol=trd,
        site=site,
        start_date=MONDAY,
        weekdays=[0, 3],
        start_time=dt.time(9),
        preferred_chair=chair(site, 1),
        bookings=[
            services.PlannedBooking(
                start=at(MONDAY + dt.timedelta(days=3 * n), 9), chair=chair(site, 1), phase_order=1, sequence=n + 1
            )
            for n in range(2)
        ],
        user=scheduler,
    )
    event = row(started)
    assert event.summary["changes"]["status"] == [None, "active"]
    assert describe(event) == [
        f"Course started: {trd.name} at {site.name}, from Mon 1 Mar 2027, Mon, Thu at 09:00, Chair 1 preferred",
        "2 sessions booked, Mon 1 Mar 09:00 (Chair 1) to Thu 4 Mar 09:00",
    ]


def test_stopping_a_course_records_the_status_and_the_sessions_cancelled(client_for, scheduler, course, site):
    first = book(course, chair(site, 1), at(MONDAY, 9))
    second = book(course, chair(site, 1), at(MONDAY + dt.timedelta(days=3), 9))
    services.course_stop(course=course, reason="Moving away", user=scheduler)
    event = row(course, action="stop")
    assert event.summary["changes"] == {"status": ["active", "stopped"]}
    assert sorted(event.summary["cancelled"]) == sorted([first.pk, second.pk])
    assert describe(event) == [
        "Course stopped: Stopped (was active)",
        "Reason: Moving away",
        "2 sessions still to come cancelled",
    ]


def test_a_replan_records_the_new_session_and_each_later_one_moved(course, site, scheduler):
    missed = book(course, chair(site, 1), at(MONDAY, 9))
    later = book(course, chair(site, 1), at(MONDAY + dt.timedelta(days=3), 9))
    with time_machine.travel(at(MONDAY, 12), tick=False):
        services.session_mark_no_show(session=missed, version=None, user=scheduler)
        changed = services.course_replan(course=course, missed=missed, user=scheduler)
    event = row(course, action="replan")
    replacement = changed[0]
    assert event.summary["booked"] == {"session": replacement.pk, "start": utc(replacement.start), "chair": "Chair 1"}
    later.refresh_from_db()
    if later in changed:
        assert event.summary["moved"][str(later.pk)]["start"][1] == utc(later.start)
    said = words(event)
    assert "Missed session of Mon 1 Mar 09:00 made up on" in said


def test_a_prescribers_review_records_the_decision_the_note_and_the_new_plan(
    client_for, prescriber, patient, site, scheduler, frozen_now
):
    course = factories.make_course(patient, scheduler, start_date=MONDAY, slug="esketamine-mdsi")
    phase = course.protocol.phases.get(order=1)
    for n, d in enumerate([0, 3, 7, 10, 14, 17, 21, 24], start=1):
        book(course, chair(site, 3), at(MONDAY + dt.timedelta(days=d), 9), phase=phase, sequence=n)
    course.review_phase_order = 1
    course.save()
    with time_machine.travel(dt.datetime(2027, 3, 26, 10, tzinfo=NY), tick=False):
        response = client_for(prescriber).post(
            reverse("scheduling:course-review", args=[course.pk]), {"decision": "stop", "note": "No response"}
        )
    assert response.status_code == 302
    assert CourseReview.objects.filter(course=course).exists()
    event = row(course, action="review")
    assert event.summary["changes"] == {"review_phase_order": [1, None], "note": [None, "No response"]}
    said = words(event)
    assert "Prescriber's review of" in said and "Stop the course" in said and "Note: No response" in said
    assert "Course stopped: Stopped (was active)" in words(row(course, action="stop"))


# --- The session day --------------------------------------------------------------------------

AT = DAY_START + dt.timedelta(minutes=5)  # 09:05


def test_every_write_of_the_day_carries_its_values(client_for, nurse, prescriber, administrator, make_session, patient):
    session = make_session(patient, ride="unconfirmed")
    with time_machine.travel(AT, tick=False):
        checkin = day_services.session_check_in(
            session=session, user=nurse, checklist={**CHECKLIST_ALL, "no_food_2h": False}
        )
        day_services.session_check_in(
            session=session,
            user=nurse,
            checklist=CHECKLIST_ALL,
            transport={"kind": "escort", "name": "Sam Lee", "phone": "+12125550111", "relationship": "Brother"},
        )
        high = day_services.vitals_record(
            session=session, user=nurse, kind="pre_dose", values={**NORMAL, "systolic": 150}
        )
        corrected = day_services.vitals_correct(
            reading=high, user=nurse, values={**NORMAL, "systolic": 152}, reason="Typed 150 instead of 152"
        )
        override = day_services.predose_override(session=session, user=prescriber, reason="Repeat BP 138/86")
        dose = day_services.dose_record(session=session, user=nurse, dose_mg=56, lot_number="ABC123")
    with time_machine.travel(AT + dt.timedelta(minutes=5), tick=False):
        device = day_services.dose_device_record(session=session, user=nurse)
    with time_machine.travel(AT + dt.timedelta(minutes=20), tick=False):
        event = day_services.adverse_event_record(
            session=session, user=nurse, kind="nausea_vomiting", severity="mild", action_taken="Bowl"
        )
    with time_machine.travel(AT + dt.timedelta(minutes=41), tick=False):
        checkpoint = day_services.vitals_record(
            session=session, user=nurse, kind="checkpoint", checkpoint_minute=40, values=NORMAL
        )
    with time_machine.travel(AT + dt.timedelta(minutes=118), tick=False):
        day_services.vitals_record(session=session, user=nurse, kind="discharge", values=NORMAL)
    with time_machine.travel(AT + dt.timedelta(minutes=121), tick=False):
        discharge = day_services.observation_discharge(
            session=session,
            user=nurse,
            alert=True,
            oriented=True,
            steady=True,
            picked_up_by="Sam Lee",
            picked_up_relationship="Brother",
            would_have_been_ready_at=AT + dt.timedelta(minutes=100),
        )

    checked_in = AuditEvent.objects.get(object_type="checkin", action="create")
    assert checked_in.summary["changes"]["arrived_at"] == [None, utc(AT)]
    assert checked_in.summary["changes"]["no_food_2h"] == [None, False]
    assert checked_in.summary["changes"]["status"] == ["booked", "checked_in"]
    assert words(checked_in).startswith("Checked in, arrived Tue 17 Nov 09:05")
    assert "Not yet: no food for the last 2 hours" in words(checked_in)
    updated = AuditEvent.objects.get(object_type="checkin", action="update", object_id=str(checkin.pk))
    assert updated.summary["changes"]["no_food_2h"] == [False, True]
    assert updated.summary["changes"]["transport_confirmed"] == [False, True]
    assert updated.summary["changes"]["ride_name"] == ["Jordan Example", "Sam Lee"]
    assert updated.summary["changes"]["ride_status"] == ["unconfirmed", "confirmed_staff"]
    assert "No food for the last 2 hours: yes (was no)" in words(updated)
    assert "Ride home: Driver or service name: Sam Lee (was Jordan Example)" in words(updated)

    reading = row(high).summary["changes"]
    assert (reading["kind"], reading["systolic"], reading["diastolic"]) == ([None, "pre_dose"], [None, 150], [None, 82])
    assert reading["taken_at"] == [None, utc(AT)]
    assert words(row(high)).startswith(
        "Pre-dose reading at Tue 17 Nov 09:05: BP 150/82, HR 72, SpO2 98%, RR 14, MOAA/S 5"
    )

    correction = row(corrected)
    assert correction.summary["corrects"] == high.pk
    assert correction.summary["changes"] == {
        "systolic": [150, 152],
        "correction_reason": [None, "Typed 150 instead of 152"],
    }
    assert describe(correction) == [
        f"Corrected the pre-dose reading #{high.pk}: Systolic BP (mmHg) 152 (was 150)",
        "Reason: Typed 150 instead of 152",
    ]

    lifted = row(override).summary["changes"]
    assert lifted["kind"] == [None, "pre_dose"] and lifted["reason"] == [None, "Repeat BP 138/86"]
    assert lifted["blocks"][1] == override.blocks
    assert "Reason: Repeat BP 138/86" in words(row(override))

    dosed = row(dose).summary["changes"]
    assert dosed["dose_mg"] == [None, "56"] and dosed["devices_planned"] == [None, 2]
    assert dosed["lot_number"] == [None, "ABC123"] and dosed["first_device_at"] == [None, utc(AT)]
    assert dosed["status"] == ["checked_in", "in_observation"]
    assert describe(row(dose))[0] == "Dose recorded: 2 devices (56 mg), lot ABC123, first device 09:05:00"

    given = row(device)
    assert given.summary["changes"] == {
        "number": [None, 2],
        "administered_at": [None, utc(AT + dt.timedelta(minutes=5))],
        "late_entry": [None, False],
    }
    assert describe(given) == ["Device 2 of 2 given at 09:10:00"]

    assert row(event).summary["changes"]["kind"] == [None, "nausea_vomiting"]
    assert words(row(event)).startswith("Adverse event: Nausea / vomiting, mild, onset 09:25 | Action taken: Bowl")

    observed = row(checkpoint).summary["changes"]
    assert observed["checkpoint_minute"] == [None, 40] and observed["spo2"] == [None, 98]
    assert words(row(checkpoint)).startswith("40-minute checkpoint reading at Tue 17 Nov 09:46: BP 128/82")

    left = row(discharge).summary["changes"]
    assert left["picked_up_by"] == [None, "Sam Lee"] and left["steady"] == [None, True]
    assert left["would_have_been_ready_at"] == [None, utc(AT + dt.timedelta(minutes=100))]
    assert left["status"] == ["in_observation", "discharged"]
    assert describe(row(discharge))[:3] == [
        "Discharged at 11:06",
        "Ready: alert, oriented, steady",
        "Taken home by Sam Lee (Brother) at 11:06",
    ]

    # The administrator's report says it in words, escaped, without a query per row.
    page = audit_page(client_for(administrator), patient=patient.mrn)
    for phrase in (
        "Checked in, arrived Tue 17 Nov 09:05",
        "Dose recorded: 2 devices (56 mg), lot ABC123, first device 09:05:00",
        "Device 2 of 2 given at 09:10:00",
        f"Corrected the pre-dose reading #{high.pk}: Systolic BP (mmHg) 152 (was 150)",
        "Taken home by Sam Lee (Brother) at 11:06",
    ):
        assert phrase in page, phrase


def test_dosing_stopped_early_records_the_cause_and_the_devices_given(nurse, make_session, patient):
    session = make_session(patient, dose="84")
    with time_machine.travel(AT, tick=False):
        day_services.session_check_in(session=session, user=nurse, checklist=CHECKLIST_ALL)
        day_services.vitals_record(session=session, user=nurse, kind="pre_dose", values=NORMAL)
        dose = day_services.dose_record(session=session, user=nurse, dose_mg=56, lot_number="LOT9")
        day_services.dose_stop_early(session=session, user=nurse, cause="refusal", note="Declined the second device")
    event = AuditEvent.objects.get(object_type="doserecord", action="update")
    assert event.summary["changes"]["stopped_cause"] == ["", "refusal"]
    assert event.summary["changes"]["stopped_note"] == ["", "Declined the second device"]
    assert event.summary["changes"]["stopped_at"] == [None, utc(AT)]
    assert (event.summary["devices_given"], event.summary["devices_planned"]) == (1, dose.devices_planned)
    assert describe(event) == [
        "Dosing stopped early after 1 of 2 devices because of the patient's refusal",
        "Note: Declined the second device",
    ]


def test_an_infusion_records_weight_dose_start_and_end(nurse, make_session, patient, iv_protocol):
    session = make_session(patient, protocol_=iv_protocol)
    with time_machine.travel(AT, tick=False):
        day_services.session_check_in(session=session, user=nurse, checklist=CHECKLIST_ALL)
        day_services.vitals_record(session=session, user=nurse, kind="pre_dose", values=NORMAL)
        dose = day_services.dose_record(session=session, user=nurse, dose_mg=0, weight_kg=70, mg_per_kg="0.5")
    with time_machine.travel(AT + dt.timedelta(minutes=40), tick=False):
        day_services.dose_infusion_end(session=session, user=nurse)
    started = AuditEvent.objects.get(object_type="doserecord", action="create", object_id=str(dose.pk))
    assert started.summary["changes"]["weight_kg"] == [None, "70"]
    assert started.summary["changes"]["dose_mg"] == [None, "35"]
    assert started.summary["changes"]["infusion_start"] == [None, utc(AT)]
    assert describe(started)[0] == "Dose recorded: IV ketamine 35 mg (70 kg × 0.5 mg/kg), infusion from 09:05"
    ended = AuditEvent.objects.get(object_type="doserecord", action="update", object_id=str(dose.pk))
    assert ended.summary["changes"] == {"infusion_end": [None, utc(AT + dt.timedelta(minutes=40))]}
    assert describe(ended) == ["Infusion ended 09:45"]


def test_a_row_without_a_describer_reads_field_by_field_with_verbose_names(nurse, patient):
    from clinic.audit import audit_record

    event = audit_record(
        action="update",
        user=nurse,
        obj=patient,
        summary={
            "fields": ["phone", "date_of_birth"],
            "changes": {"phone": ["+12125550142", None], "date_of_birth": ["1980-01-02", "1980-02-01"]},
        },
    )
    assert describe(event) == [
        "Date of birth: Fri 1 Feb 1980 (was Wed 2 Jan 1980)",
        "Phone: removed (was (212) 555-0142)",
    ]


def test_the_report_reads_as_many_queries_whatever_kinds_of_rows_it_shows(
    client_for,
    administrator,
    nurse,
    make_session,
    patient,
):
    client = client_for(administrator)
    AuditEvent.objects.bulk_create(
        AuditEvent(created_at=DAY_START, action="view", object_type="patient", username="nurse") for _ in range(60)
    )
    audit_page(client)  # warm the per-process caches
    with CaptureQueriesContext(connection) as plain:
        audit_page(client)
    for n in range(4):
        session = make_session(factories.make_patient(site=patient.site), start=DAY_START + dt.timedelta(hours=3 * n))
        with time_machine.travel(session.start + dt.timedelta(minutes=5), tick=False):
            day_services.session_check_in(session=session, user=nurse, checklist=CHECKLIST_ALL)
            day_services.vitals_record(session=session, user=nurse, kind="pre_dose", values=NORMAL)
            day_services.dose_record(session=session, user=nurse, dose_mg=56, lot_number="LOT1")
    with CaptureQueriesContext(connection) as mixed:
        page = audit_page(client)
    assert "Dose recorded: 2 devices (56 mg), lot LOT1" in page
    assert len(mixed) == len(plain)


def test_rows_written_before_values_were_recorded_still_read_sensibly():
    old = [
        AuditEvent(action="update", object_type="session", object_id="7", summary={"action": "cancel"}),
        AuditEvent(
            action="update",
            object_type="session",
            object_id="7",
            summary={"action": "move", "chair": 2, "following": True},
        ),
        AuditEvent(action="create", object_type="session", object_id="7", summary={"course": 3}),
        AuditEvent(action="update", object_type="session", object_id="7", summary={"action": "transport"}),
        AuditEvent(action="view", object_type="board", object_id="1", summary={"site": 1, "refresh": True}),
    ]
    assert [describe(e) for e in old] == [
        ["Cancelled"],
        ["Moved to chair #2", "with the course's later sessions"],
        ["course: 3"],
        ["Ride home recorded"],
        ["site: 1", "refresh: yes"],
    ]


def test_the_locked_out_users_page_writes_the_last_attempt_in_the_clinics_format(client_for, administrator, settings):
    from axes.models import AccessAttempt

    attempt_at = dt.datetime.now(UTC).replace(second=0, microsecond=0)
    AccessAttempt.objects.create(
        username="nurse",
        ip_address="127.0.0.1",
        user_agent="test",
        failures_since_start=settings.AXES_FAILURE_LIMIT,
        attempt_time=attempt_at,
    )
    page = client_for(administrator).get(reverse("clinic:audit-lockouts")).content.decode()
    local = attempt_at.astimezone(NY)
    assert f"<td>{local:%a} {local.day} {local:%b %Y %H:%M}</td>" in page
