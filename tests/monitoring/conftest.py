"""Session-day fixtures: sessions built directly with the scheduling models."""

import datetime as dt
import zoneinfo

import pytest

from monitoring.models import CheckIn
from scheduling.models import Course, Protocol, Session, TransportArrangement
from tests import factories

NY = zoneinfo.ZoneInfo("America/New_York")
# A Tuesday morning at the clinic: 09:00 local.
DAY_START = dt.datetime(2026, 11, 17, 9, 0, tzinfo=NY)


@pytest.fixture
def protocol(db):
    return Protocol.objects.create(
        name="Esketamine (session-day tests)",
        slug="esk-session-day-tests",
        drug="esketamine",
        checkpoint_minutes=[40],
        allowed_doses_mg=[56, 84],
        first_dose_mg=56,
    )


@pytest.fixture
def iv_protocol(db):
    return Protocol.objects.create(
        name="IV ketamine (session-day tests)",
        slug="iv-session-day-tests",
        drug="iv_ketamine",
        checkpoint_minutes=[40],
        mg_per_kg_min="0.5",
        mg_per_kg_max="1.0",
    )


@pytest.fixture
def make_session(site, protocol, administrator):
    """make_session(patient=..., chair=..., start=..., ride="confirmed"|"unconfirmed"|None)."""

    def build(patient, *, chair=None, start=DAY_START, dose="56", ride="confirmed", protocol_=None, **kwargs):
        chair = chair or site.chairs.first()
        protocol_ = protocol_ or protocol
        # A patient has one active course per drug: a later session of the same protocol joins it.
        course = Course.objects.filter(patient=patient, status="active", protocol=protocol_).first()
        Course.objects.filter(patient=patient, status="active", protocol__drug=protocol_.drug).exclude(
            pk=course.pk if course else None
        ).update(status="completed")
        course = course or Course.objects.create(
            patient=patient,
            protocol=protocol_,
            site=site,
            start_date=start.date(),
            weekdays=[start.weekday()],
            start_time=start.timetz().replace(tzinfo=None),
            created_by=administrator,
        )
        session = Session.objects.create(
            course=course,
            patient=patient,
            chair=chair,
            start=start,
            planned_end=start + dt.timedelta(minutes=150),
            planned_dose_mg=dose,
            **kwargs,
        )
        if ride:
            TransportArrangement.objects.create(
                session=session,
                name="Jordan Example",
                phone="+12125550199",
                relationship="Partner",
                status="confirmed_staff" if ride == "confirmed" else "unconfirmed",
            )
        return session

    return build


@pytest.fixture
def session(make_session, patient):
    return make_session(patient)


CHECKLIST_ALL = dict.fromkeys(CheckIn.CHECKLIST, True)
NORMAL = {"systolic": 128, "diastolic": 82, "heart_rate": 72, "spo2": 98, "respiratory_rate": 14, "moaas": 5}


def vitals_post(**overrides):
    data = {k: str(v) for k, v in NORMAL.items()}
    data.update({k: str(v) for k, v in overrides.items()})
    return data


@pytest.fixture
def run_to_observation(nurse):
    """Check in, take normal pre-dose vitals and give device 1 at ``dosed_at``."""
    import time_machine

    from monitoring import services

    def run(session, dosed_at=DAY_START + dt.timedelta(minutes=10), devices=None):
        """``devices``: how many nasal devices to give, five minutes apart (every one planned)."""
        with time_machine.travel(dosed_at - dt.timedelta(minutes=8), tick=False):
            services.session_check_in(session=session, user=nurse, checklist=CHECKLIST_ALL)
            services.vitals_record(session=session, user=nurse, kind="pre_dose", values=NORMAL)
        with time_machine.travel(dosed_at, tick=False):
            dose = services.dose_record(session=session, user=nurse, dose_mg=56, lot_number="LOT42")
        for number in range(2, (devices or dose.devices_planned or 1) + 1):
            with time_machine.travel(dosed_at + dt.timedelta(minutes=5 * (number - 1)), tick=False):
                services.dose_device_record(session=session, user=nurse)
        session.refresh_from_db()
        return session

    return run


@pytest.fixture
def run_to_discharge(nurse, run_to_observation):
    """Dose at ``dosed_at``, take the 40-minute and before-discharge readings, and discharge
    after 126 minutes (would have been ready at 95)."""
    import time_machine

    from monitoring import services

    def run(session, dosed_at=DAY_START + dt.timedelta(minutes=10), checkpoint_values=NORMAL):
        run_to_observation(session, dosed_at=dosed_at)
        with time_machine.travel(dosed_at + dt.timedelta(minutes=41), tick=False):
            services.vitals_record(
                session=session, user=nurse, kind="checkpoint", checkpoint_minute=40, values=checkpoint_values
            )
        with time_machine.travel(dosed_at + dt.timedelta(minutes=118), tick=False):
            services.vitals_record(session=session, user=nurse, kind="discharge", values=NORMAL)
        with time_machine.travel(dosed_at + dt.timedelta(minutes=126), tick=False):
            services.observation_discharge(
                session=session,
                user=nurse,
                alert=True,
                oriented=True,
                steady=True,
                picked_up_by="Jordan Example",
                would_have_been_ready_at=dosed_at + dt.timedelta(minutes=95),
            )
        session.refresh_from_db()
        return session

    return run


@pytest.fixture
def weeks_of_sessions(make_session, run_to_discharge, site, nurse):
    """Discharged sessions on six past days (the one nine days back on a protocol that checks at
    30 minutes, so its 40-minute reading leaves it incomplete), a no-show, a cancellation and a
    booking at noon two days after ``DAY_START`` (the reports' tests run that morning)."""
    at_30 = Protocol.objects.create(name="Esketamine at 30", slug="esk-30", drug="esketamine", checkpoint_minutes=[30])
    sessions = {}
    for days_back in (1, 3, 5, 9, 20, 30):
        start = DAY_START - dt.timedelta(days=days_back)
        protocol_ = at_30 if days_back == 9 else None
        session = make_session(factories.make_patient(site=site), start=start, protocol_=protocol_)
        sessions[days_back] = run_to_discharge(session, dosed_at=start)
    make_session(factories.make_patient(site=site), start=DAY_START - dt.timedelta(days=4), status="no_show")
    make_session(factories.make_patient(site=site), start=DAY_START - dt.timedelta(days=6), status="cancelled")
    make_session(factories.make_patient(site=site), start=DAY_START + dt.timedelta(days=2, hours=3))
    return sessions
