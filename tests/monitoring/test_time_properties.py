"""Properties of the clinical-time rules and the discharge gate, for any entered times and clock
positions: discharge is allowed only when 120 real minutes have passed since the recorded first
device and the other conditions hold, and an entered time never shortens them."""

import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitoring import rules, services
from monitoring.models import Discharge, Observation
from tests.monitoring.conftest import CHECKLIST_ALL, DAY_START, NORMAL

NY = zoneinfo.ZoneInfo("America/New_York")
T0 = dt.datetime(2026, 11, 17, 14, 0, tzinfo=dt.UTC)
WINDOW = rules.DEFAULTS.late_entry_window_minutes
MINIMUM = dt.timedelta(minutes=rules.DEFAULTS.observation_minimum_minutes)

seconds = st.integers(min_value=-6 * 3600, max_value=6 * 3600)
maybe_seconds = st.none() | seconds


@settings(max_examples=60, deadline=None)
@given(entered=seconds, checked_in=maybe_seconds, discharged=maybe_seconds, window=st.integers(0, 120))
def test_an_accepted_time_lies_inside_every_bound(entered, checked_in, discharged, window):
    now = T0
    at = now + dt.timedelta(seconds=entered)
    checked_in_at = now + dt.timedelta(seconds=checked_in) if checked_in is not None else None
    discharged_at = now + dt.timedelta(seconds=discharged) if discharged is not None else None
    error = rules.entered_time_error(
        at, now=now, checked_in_at=checked_in_at, discharged_at=discharged_at, window_minutes=window, tz=NY
    )
    inside = (
        now - dt.timedelta(minutes=window) <= at <= now + rules.CLOCK_SKEW
        and (checked_in_at is None or at >= checked_in_at)
        and (discharged_at is None or at <= discharged_at)
    )
    assert (error is None) == inside
    if error is None:
        assert rules.is_late_entry(at, now=now) == (at < now - rules.CLOCK_SKEW)


@settings(max_examples=60, deadline=None)
@given(
    started=seconds,
    now=seconds,
    flags=st.none() | st.just([]) | st.just([{"label": "Low SpO2", "severity": "critical"}]),
    overridden=st.booleans(),
    readiness=st.fixed_dictionaries({k: st.booleans() for k in rules.READINESS_LABELS}),
    pickup=st.sampled_from(["", "  ", "Jordan"]),
    planned=st.integers(1, 3),
    given_=st.integers(0, 3),
    stopped=st.booleans(),
)
def test_the_gate_opens_only_when_every_condition_holds(
    started, now, flags, overridden, readiness, pickup, planned, given_, stopped
):
    started_at = T0 + dt.timedelta(seconds=started)
    at = T0 + dt.timedelta(seconds=now)
    devices = rules.Devices(planned=planned, given=min(given_, planned), stopped_early=stopped)
    gate = rules.discharge_gate(
        started_at=started_at,
        now=at,
        discharge_reading_flags=flags,
        vitals_overridden=overridden,
        readiness=readiness,
        pickup_name=pickup,
        tzinfo=NY,
        devices=devices,
    )
    expected = (
        at - started_at >= MINIMUM
        and flags is not None
        and (not flags or overridden)
        and all(readiness.values())
        and bool(pickup.strip())
        and (devices.given == devices.planned or stopped)
    )
    assert gate.ok == expected


class _Rollback(Exception):
    pass


@pytest.mark.django_db
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    dose_clock=st.integers(0, 40),
    entered_back=st.none() | st.integers(0, 240),
    attempts=st.lists(st.integers(0, 200 * 60), min_size=1, max_size=6),
)
def test_whatever_is_entered_discharge_comes_120_real_minutes_after_the_recorded_first_device(
    make_session, patient, nurse, dose_clock, entered_back, attempts
):
    """Check in at 09:05, dose at 09:05 + ``dose_clock`` minutes with a first device typed
    ``entered_back`` minutes earlier (or left empty), give the second device and the
    before-discharge reading, then try to discharge at each of ``attempts`` (seconds after the
    dose was recorded)."""
    try:
        with transaction.atomic():
            session = make_session(patient)
            checked_in = DAY_START + dt.timedelta(minutes=5)
            with time_machine.travel(checked_in, tick=False):
                services.session_check_in(session=session, user=nurse, checklist=CHECKLIST_ALL)
                services.vitals_record(session=session, user=nurse, kind="pre_dose", values=NORMAL)
            recorded = checked_in + dt.timedelta(minutes=dose_clock, seconds=30)
            typed = recorded - dt.timedelta(minutes=entered_back) if entered_back is not None else None
            with time_machine.travel(recorded, tick=False):
                try:
                    services.dose_record(session=session, user=nurse, dose_mg=56, lot_number="L1", started_at=typed)
                except ValidationError:
                    assert typed < max(recorded - dt.timedelta(minutes=WINDOW), checked_in)
                    raise _Rollback from None
            started = Observation.objects.get(session=session).started_at
            assert started >= recorded - dt.timedelta(minutes=WINDOW) and started >= checked_in
            with time_machine.travel(started + dt.timedelta(minutes=5), tick=False):
                services.dose_device_record(session=session, user=nurse)
                services.vitals_record(session=session, user=nurse, kind="discharge", values=NORMAL)
            for offset in sorted(attempts):
                clock = recorded + dt.timedelta(seconds=offset)
                if clock < started + dt.timedelta(minutes=5):
                    continue  # before the second device and the reading: not part of this story
                with time_machine.travel(clock, tick=False):
                    try:
                        services.observation_discharge(
                            session=session, user=nurse, alert=True, oriented=True, steady=True, picked_up_by="Jo"
                        )
                    except ValidationError:
                        assert clock - started < MINIMUM
                        continue
                discharge = Discharge.objects.get(observation__session=session)
                assert discharge.discharged_at == clock and clock - started >= MINIMUM
                break
            raise _Rollback
    except _Rollback:
        pass
