"""reminders_sync: rows created at booking, re-timed on a move, skipped with the reason."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from scheduling import rules_reminders as rules
from scheduling.models import Reminder, Session
from scheduling.reminders_plan import reminders_sync
from tests.factories import make_session

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def rows(session) -> dict[str, Reminder]:
    return {row.kind: row for row in Reminder.objects.filter(session=session)}


@time_machine.travel(NOW, tick=False)
def test_it_creates_one_row_per_kind_at_booking(patient, site):
    start = dt.datetime(2026, 6, 10, 13, 0, tzinfo=dt.UTC)  # 09:00 in New York
    session = make_session(patient, site, start, sync=False)
    reminders_sync(session=session)
    reminders_sync(session=session)
    got = rows(session)
    assert set(got) == {"72h", "24h", "morning"}
    assert all(row.status == "pending" and row.channel == "sms" for row in got.values())
    assert got["24h"].due_at == start - dt.timedelta(hours=24)
    assert timezone.localtime(got["morning"].due_at, site.tzinfo).time() == dt.time(7, 0)


@time_machine.travel(NOW, tick=False)
def test_it_retimes_rows_when_the_session_moves(patient, site):
    session = make_session(patient, site, dt.datetime(2026, 6, 10, 13, 0, tzinfo=dt.UTC))
    reminders_sync(session=session)
    session.start = dt.datetime(2026, 6, 3, 13, 0, tzinfo=dt.UTC)
    session.planned_end = session.start + dt.timedelta(hours=3)
    session.save()
    reminders_sync(session=session)
    got = rows(session)
    assert (got["72h"].status, got["72h"].skip_reason) == ("skipped", rules.REASON_TOO_LATE)
    assert got["24h"].due_at == dt.datetime(2026, 6, 2, 13, 0, tzinfo=dt.UTC)
    assert got["24h"].status == "pending"
    session.start = dt.datetime(2026, 6, 20, 13, 0, tzinfo=dt.UTC)
    session.planned_end = session.start + dt.timedelta(hours=3)
    session.save()
    reminders_sync(session=session)
    assert rows(session)["72h"].status == "pending"


@time_machine.travel(NOW, tick=False)
def test_it_skips_pending_rows_when_cancelled_but_keeps_sent_ones(patient, site):
    session = make_session(patient, site, dt.datetime(2026, 6, 3, 13, 0, tzinfo=dt.UTC))
    reminders_sync(session=session)
    Reminder.objects.filter(session=session, kind="72h").update(status="sent")
    Session.objects.filter(pk=session.pk).update(status="cancelled")
    reminders_sync(session=session)
    got = rows(session)
    assert got["72h"].status == "sent"
    assert (got["24h"].status, got["24h"].skip_reason) == ("skipped", rules.REASON_CANCELLED)
    assert (got["morning"].status, got["morning"].skip_reason) == ("skipped", rules.REASON_CANCELLED)


@time_machine.travel(NOW, tick=False)
def test_it_skips_when_the_patient_cannot_be_reached(patient, site):
    patient.preferred_channel = "email"
    patient.email = ""
    patient.save()
    session = make_session(patient, site, dt.datetime(2026, 6, 10, 13, 0, tzinfo=dt.UTC))
    reminders_sync(session=session)
    assert {row.skip_reason for row in rows(session).values()} == {rules.REASON_NO_EMAIL}
