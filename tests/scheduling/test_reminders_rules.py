"""Due times and skip rules for patient reminders (pure functions, no database)."""

import datetime as dt
import zoneinfo

import pytest

from scheduling import rules_reminders as rules

NY = zoneinfo.ZoneInfo("America/New_York")
KINDS = rules.parse_reminder_kinds(
    [
        {"kind": "72h", "hours_before": 72},
        {"kind": "24h", "hours_before": 24},
        {"kind": "morning", "local_time": "07:00"},
    ]
)
H72, H24, MORNING = KINDS


def local(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=NY)


def plan(kind, start, now, **overrides):
    facts = {
        "start": start,
        "tz": NY,
        "now": now,
        "session_status": "booked",
        "opted_out": False,
        "channel": "sms",
        "phone": "+12125550142",
        "email": "pat@example.com",
    }
    facts.update(overrides)
    return rules.plan_reminder(kind, **facts)


def test_it_counts_hours_before_on_the_wall_clock():
    start = local(2026, 6, 10, 9, 0)
    assert rules.due_at(H72, start=start, tz=NY) == local(2026, 6, 7, 9, 0)
    assert rules.due_at(H24, start=start, tz=NY) == local(2026, 6, 9, 9, 0)
    assert rules.due_at(MORNING, start=start, tz=NY) == local(2026, 6, 10, 7, 0)


def test_it_keeps_the_time_of_day_across_spring_forward():
    # Clocks go forward on Sunday 8 March 2026 in New York.
    start = local(2026, 3, 9, 9, 0)  # Monday 09:00 EDT = 13:00 UTC
    due = rules.due_at(H72, start=start, tz=NY)
    assert due.astimezone(NY).time() == dt.time(9, 0)
    assert due == dt.datetime(2026, 3, 6, 14, 0, tzinfo=dt.UTC)  # Friday 09:00 EST
    assert start - due == dt.timedelta(hours=71)


def test_it_keeps_the_time_of_day_across_fall_back():
    # Clocks go back on Sunday 1 November 2026.
    start = local(2026, 11, 2, 9, 0)  # Monday 09:00 EST
    due = rules.due_at(H72, start=start, tz=NY)
    assert due.astimezone(NY) == local(2026, 10, 30, 9, 0)  # Friday 09:00 EDT
    assert start - due == dt.timedelta(hours=73)
    assert rules.due_at(MORNING, start=start, tz=NY) == dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)


def test_it_moves_a_time_that_does_not_exist_forward():
    kind = rules.ReminderKind(name="early", local_time=dt.time(2, 30))
    due = rules.due_at(kind, start=local(2026, 3, 8, 9, 0), tz=NY)
    assert due.astimezone(NY).time() == dt.time(3, 30)


def test_it_plans_a_pending_reminder_in_the_future():
    result = plan(H24, local(2026, 6, 10, 9), now=local(2026, 6, 1, 12))
    assert result.status == rules.PENDING
    assert result.due_at == local(2026, 6, 9, 9)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"session_status": "cancelled"}, rules.REASON_CANCELLED),
        ({"session_status": "no_show"}, rules.REASON_NO_SHOW),
        ({"session_status": "checked_in"}, rules.REASON_STARTED),
        ({"opted_out": True}, rules.REASON_OPTED_OUT),
        ({"channel": "none"}, rules.REASON_OPTED_OUT),
        ({"phone": ""}, rules.REASON_NO_PHONE),
        ({"channel": "email", "email": ""}, rules.REASON_NO_EMAIL),
    ],
)
def test_it_skips_with_the_reason(overrides, reason):
    result = plan(H24, local(2026, 6, 10, 9), now=local(2026, 6, 1, 12), **overrides)
    assert (result.status, result.skip_reason) == (rules.SKIPPED, reason)


def test_it_sends_by_email_without_a_phone_number():
    result = plan(H24, local(2026, 6, 10, 9), now=local(2026, 6, 1, 12), channel="email", phone="")
    assert result.status == rules.PENDING


def test_it_skips_a_reminder_whose_time_passed_at_booking():
    result = plan(H72, local(2026, 6, 10, 9), now=local(2026, 6, 8, 12))
    assert (result.status, result.skip_reason) == (rules.SKIPPED, rules.REASON_TOO_LATE)
    assert plan(H24, local(2026, 6, 10, 9), now=local(2026, 6, 8, 12)).status == rules.PENDING


def test_it_sends_the_morning_note_at_once_when_booked_the_same_day():
    now = local(2026, 6, 10, 10, 15)
    result = plan(MORNING, local(2026, 6, 10, 14), now=now)
    assert (result.status, result.due_at) == (rules.PENDING, now)
    assert plan(H24, local(2026, 6, 10, 14), now=now).skip_reason == rules.REASON_TOO_LATE


def test_it_does_not_send_a_morning_note_after_the_session_started():
    result = plan(MORNING, local(2026, 6, 10, 9), now=local(2026, 6, 10, 9, 30))
    assert result.status == rules.SKIPPED


def test_it_skips_a_morning_note_for_a_session_before_the_note_time():
    result = plan(MORNING, local(2026, 6, 10, 6, 30), now=local(2026, 6, 1, 9))
    assert result.skip_reason == rules.REASON_NOT_BEFORE_START


def test_it_keeps_a_pending_row_whose_time_just_passed():
    start = local(2026, 6, 10, 9)
    due = rules.due_at(H24, start=start, tz=NY)
    existing = rules.Existing(status=rules.PENDING, due_at=due)
    result = plan(H24, start, now=due + dt.timedelta(seconds=30), existing=existing)
    assert result.status == rules.PENDING


def test_it_retimes_a_moved_session_and_skips_a_passed_time():
    old_start = local(2026, 6, 12, 9)
    existing = rules.Existing(status=rules.PENDING, due_at=rules.due_at(H72, start=old_start, tz=NY))
    moved = plan(H72, local(2026, 6, 11, 9), now=local(2026, 6, 8, 12), existing=existing)
    assert (moved.status, moved.skip_reason) == (rules.SKIPPED, rules.REASON_TOO_LATE)
    later = plan(H72, local(2026, 6, 20, 9), now=local(2026, 6, 8, 12), existing=existing)
    assert (later.status, later.due_at) == (rules.PENDING, local(2026, 6, 17, 9))


@pytest.mark.parametrize(
    "specs",
    [
        [{"kind": "x"}],
        [{"kind": "x", "hours_before": 0}],
        [{"kind": "", "hours_before": 1}],
        [{"kind": "x", "hours_before": 1, "local_time": "07:00"}],
        [{"kind": "x", "hours_before": 1}, {"kind": "x", "hours_before": 2}],
    ],
)
def test_it_refuses_bad_kind_settings(specs):
    with pytest.raises(ValueError):
        rules.parse_reminder_kinds(specs)
