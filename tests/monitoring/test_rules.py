import datetime as dt
import zoneinfo

import pytest

from monitoring import rules

T = rules.DEFAULTS
NORMAL = {"systolic": 128, "diastolic": 82, "heart_rate": 72, "spo2": 98, "respiratory_rate": 14, "moaas": 5}
NY = zoneinfo.ZoneInfo("America/New_York")
START = dt.datetime(2026, 11, 17, 9, 42, tzinfo=NY)


def labels(**changes):
    return [(f.label, f.severity) for f in rules.reading_flags({**NORMAL, **changes}, T)]


def test_it_flags_nothing_for_a_normal_reading():
    assert labels() == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"systolic": 179}, []),
        ({"systolic": 180}, [("High BP", "critical")]),
        ({"diastolic": 109}, []),
        ({"diastolic": 110}, [("High BP", "critical")]),
        ({"spo2": 94}, []),
        ({"spo2": 93}, [("Low SpO2", "warning")]),
        ({"spo2": 92}, [("Low SpO2", "warning")]),
        ({"spo2": 91}, [("Low SpO2", "critical")]),
        ({"respiratory_rate": 9}, []),
        ({"respiratory_rate": 8}, [("Low respiratory rate", "critical")]),
        ({"respiratory_rate": 24}, []),
        ({"respiratory_rate": 25}, [("High respiratory rate", "critical")]),
        ({"heart_rate": 41}, []),
        ({"heart_rate": 40}, [("Low heart rate", "critical")]),
        ({"heart_rate": 130}, []),
        ({"heart_rate": 131}, [("High heart rate", "critical")]),
        ({"moaas": 3}, []),
        ({"moaas": 2}, [("Deep sedation (MOAA/S)", "critical")]),
    ],
)
def test_it_flags_each_alert_threshold_at_its_edge(changes, expected):
    assert labels(**changes) == expected


def test_it_uses_the_thresholds_it_is_given():
    strict = rules.Thresholds(spo2_low=95)
    assert [f.label for f in rules.reading_flags({**NORMAL, "spo2": 95}, strict)] == ["Low SpO2"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"spo2": 101}, "spo2"),
        ({"systolic": 120, "diastolic": 125}, "diastolic"),
        ({"systolic": 120, "diastolic": 120}, "diastolic"),
        ({"moaas": 6}, "moaas"),
        ({"heart_rate": 400}, "heart_rate"),
        ({"respiratory_rate": 0}, "respiratory_rate"),
    ],
)
def test_it_refuses_physiologically_impossible_values(changes, field):
    assert field in rules.physiological_errors({**NORMAL, **changes})


def test_it_accepts_possible_values():
    assert rules.physiological_errors(NORMAL) == {}


@pytest.mark.parametrize(
    ("bp", "blocked"), [((140, 90), False), ((141, 80), True), ((130, 91), True), ((139, 89), False)]
)
def test_it_blocks_dosing_above_the_predose_limit(bp, blocked):
    blocks = rules.predose_blocks(checklist_missing=[], systolic=bp[0], diastolic=bp[1], t=T)
    assert bool(blocks) is blocked
    if blocked:
        assert "above 140/90" in blocks[0]


def test_it_blocks_dosing_without_predose_vitals_or_with_checklist_gaps():
    blocks = rules.predose_blocks(checklist_missing=["ride home confirmed"], systolic=None, diastolic=None, t=T)
    assert blocks == ["Pre-dose checklist: ride home confirmed", "No pre-dose vitals recorded yet"]


def test_it_counts_devices_for_esketamine_doses():
    assert rules.devices_for_dose(56) == 2
    assert rules.devices_for_dose(84) == 3
    assert rules.devices_for_dose(50) is None


def test_it_computes_the_iv_total():
    from decimal import Decimal

    assert rules.iv_total_mg(Decimal("72.4"), Decimal("0.5")) == Decimal("36.2")


def states(minutes_after: int, done=()):
    now = START + dt.timedelta(minutes=minutes_after)
    return {c.key: c.status for c in rules.checkpoint_states(started_at=START, minutes=[40], done_keys=done, now=now)}


def test_it_marks_checkpoints_upcoming_due_and_overdue():
    assert states(39) == {"m40": "upcoming", "discharge": "upcoming"}
    assert states(40) == {"m40": "due", "discharge": "upcoming"}
    assert states(49) == {"m40": "due", "discharge": "upcoming"}
    assert states(50) == {"m40": "overdue", "discharge": "upcoming"}
    assert states(50, done=["m40"]) == {"m40": "done", "discharge": "upcoming"}
    assert states(130, done=["m40"]) == {"m40": "done", "discharge": "overdue"}


def gate(minutes_after, flags=(), overridden=False, readiness=None, pickup="Jordan"):
    return rules.discharge_gate(
        started_at=START,
        now=START + dt.timedelta(minutes=minutes_after),
        discharge_reading_flags=None if flags is None else list(flags),
        vitals_overridden=overridden,
        readiness=readiness if readiness is not None else {"alert": True, "oriented": True, "steady": True},
        pickup_name=pickup,
        tzinfo=NY,
        t=T,
    )


def test_the_gate_refuses_before_120_minutes_and_says_when_they_end():
    result = gate(119)
    assert not result.ok
    assert result.missing == ("120 minutes of observation end at 11:42",)


def test_the_gate_opens_at_120_minutes_when_the_rest_holds():
    assert gate(120).ok


def test_the_gate_needs_a_before_discharge_reading_within_limits_or_an_override():
    assert gate(130, flags=None).missing == ("No before-discharge vitals reading yet",)
    low = [{"code": "low_spo2", "label": "Low SpO2", "severity": "warning"}]
    assert "Low SpO2" in gate(130, flags=low).missing[0]
    assert gate(130, flags=low, overridden=True).ok


def test_the_gate_lists_each_readiness_item_and_the_ride():
    result = gate(130, readiness={"alert": True, "oriented": False, "steady": False}, pickup=" ")
    assert result.missing == (
        "Readiness check: confirm the patient is oriented",
        "Readiness check: confirm the patient is steady on their feet",
        "Record who is taking the patient home",
    )


def test_the_gate_is_closed_before_dosing():
    result = rules.discharge_gate(
        started_at=None,
        now=START,
        discharge_reading_flags=None,
        vitals_overridden=False,
        readiness={},
        pickup_name="",
        tzinfo=NY,
        t=T,
    )
    assert not result.ok


def test_rems_days_left_and_warning_day():
    treated = dt.date(2026, 11, 17)
    assert rules.rems_days_left(treatment_date=treated, today=treated) == 7
    assert rules.rems_days_left(treatment_date=treated, today=dt.date(2026, 11, 22)) == 2
    assert not rules.rems_needs_warning(treatment_date=treated, today=dt.date(2026, 11, 21))
    assert rules.rems_needs_warning(treatment_date=treated, today=dt.date(2026, 11, 22))


@pytest.mark.django_db
def test_the_thresholds_in_force_are_the_administrators_row_or_the_defaults():
    from monitoring.models import ClinicalThresholds, current_thresholds, stored_thresholds
    from monitoring.reports import thresholds

    ClinicalThresholds.objects.all().delete()
    # A report never creates the row; the day's work creates it with the defaults.
    assert stored_thresholds() is None and thresholds() == rules.DEFAULTS
    assert current_thresholds() == rules.DEFAULTS and ClinicalThresholds.objects.filter(pk=1).exists()
    row = ClinicalThresholds.current()
    row.spo2_low, row.default_checkpoint_minutes = 93, [30, 60]
    row.save()
    read = current_thresholds()
    assert read == row.as_rules() == thresholds()
    assert (read.spo2_low, read.default_checkpoint_minutes) == (93, (30, 60))
