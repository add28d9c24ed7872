"""Claiming and sending reminders: exclusive claims, sent once, re-checks before sending,
retries and failures, recovery of rows abandoned in 'sending', ride alerts."""

import datetime as dt
import threading

import pytest
import time_machine
from celery.exceptions import Retry
from django.db import connection, transaction

from clinic.celery import app
from clinic.models import OutboxMessage, StaffAlert
from scheduling import links, reminders, reminders_plan, tasks
from scheduling.models import Reminder, Session, TransportArrangement
from tests.factories import make_session

pytestmark = pytest.mark.django_db

START = dt.datetime(2030, 6, 10, 13, 0, tzinfo=dt.UTC)  # Monday 09:00 in New York
DUE_24H = START - dt.timedelta(hours=24)


@pytest.fixture
def eager(monkeypatch, settings):
    """Run tasks inline: .delay() executes the task at once in this process."""
    monkeypatch.setattr(app.conf, "task_always_eager", True)
    monkeypatch.setattr(app.conf, "task_eager_propagates", True)
    settings.EMAIL_BACKEND = "clinic.messaging.OutboxEmailBackend"
    settings.SMS_BACKEND = "clinic.messaging.OutboxSmsBackend"


def run_tick(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return tasks.reminders_tick()


def test_it_claims_a_due_row_once(patient, site):
    session = make_session(patient, site, START)
    with time_machine.travel(DUE_24H + dt.timedelta(seconds=5), tick=False):
        first = reminders.reminders_claim_due()
        second = reminders.reminders_claim_due()
    row = Reminder.objects.get(session=session, kind="24h")
    assert row.pk in first and second == []
    assert (row.status, row.attempts) == ("sending", 1)
    assert Reminder.objects.get(session=session, kind="morning").status == "pending"


def twice_at_once(work) -> list:
    """Run ``work()`` in two threads released together (each on its own connection); returns
    both results."""
    results, barrier = [], threading.Barrier(2)

    def run():
        try:
            barrier.wait()
            results.append(work())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_two_claims_at_once_never_share_a_row(patient, site):
    for day in range(30):
        make_session(patient, site, START + dt.timedelta(days=day, minutes=day))
    claimed = twice_at_once(lambda: reminders.reminders_claim_due(now=START + dt.timedelta(days=40), limit=1000))
    ids = claimed[0] + claimed[1]
    assert len(ids) == len(set(ids)) == 90


def test_tick_twice_sends_once(patient, site, eager, django_capture_on_commit_callbacks):
    session = make_session(patient, site, START)
    with time_machine.travel(DUE_24H + dt.timedelta(seconds=5), tick=False):
        assert run_tick(django_capture_on_commit_callbacks) == 2  # the 72h and the 24h reminders
        assert run_tick(django_capture_on_commit_callbacks) == 0
        tasks.reminder_send(Reminder.objects.get(session=session, kind="24h").pk)  # a redelivered task
    reference = reminders.reference_for(session.reminders.get(kind="24h").pk)
    assert OutboxMessage.objects.filter(reference=reference).count() == 1
    row = Reminder.objects.get(session=session, kind="24h")
    assert (row.status, row.channel) == ("sent", "sms")
    message = OutboxMessage.objects.get(reference=f"reminder:{row.pk}")
    assert (message.channel, message.to) == ("sms", patient.phone)
    assert links.confirm_url(session.pk) in message.body


def test_it_sends_by_email_when_the_patient_prefers_it(patient, site, eager, django_capture_on_commit_callbacks):
    patient.preferred_channel = "email"
    patient.save()
    session = make_session(patient, site, START)
    with time_machine.travel(DUE_24H, tick=False):
        run_tick(django_capture_on_commit_callbacks)
    message = OutboxMessage.objects.get(reference=f"reminder:{session.reminders.get(kind='24h').pk}")
    assert (message.channel, message.to) == ("email", patient.email)
    assert message.subject and message.html_body


def test_cancelled_session_gets_nothing(patient, site, eager, django_capture_on_commit_callbacks):
    session = make_session(patient, site, START)
    Session.objects.filter(pk=session.pk).update(status="cancelled", cancel_reason="patient called")
    reminders_plan.reminders_sync(session=session)
    with time_machine.travel(START - dt.timedelta(minutes=1), tick=False):
        assert run_tick(django_capture_on_commit_callbacks) == 0
    assert not OutboxMessage.objects.exists()
    assert set(session.reminders.values_list("status", flat=True)) == {"skipped"}


def test_it_rechecks_the_session_after_the_claim(patient, site, eager, django_capture_on_commit_callbacks):
    session = make_session(patient, site, START)
    with time_machine.travel(DUE_24H, tick=False):
        ids = reminders.reminders_claim_due()
        Session.objects.filter(pk=session.pk).update(status="cancelled")  # cancelled between claim and send
        for reminder_id in ids:
            tasks.reminder_send(reminder_id)
    assert not OutboxMessage.objects.exists()
    assert session.reminders.get(kind="24h").skip_reason == "session cancelled"


def test_it_skips_a_patient_who_opted_out_after_booking(patient, site, eager, django_capture_on_commit_callbacks):
    session = make_session(patient, site, START)
    patient.reminder_opt_out = True
    patient.save()
    with time_machine.travel(DUE_24H, tick=False):
        run_tick(django_capture_on_commit_callbacks)
    assert not OutboxMessage.objects.exists()
    assert session.reminders.get(kind="24h").skip_reason == "patient opted out of reminders"


class FlakyGateway:
    """An SMS backend that fails ``failures`` times with a transient error, then works."""

    failures = 0
    records_outbox = False

    def send(self, *, to, body, reference=""):
        from clinic.messaging import TransientSendError

        if FlakyGateway.failures > 0:
            FlakyGateway.failures -= 1
            raise TransientSendError("gateway timed out")


def test_it_retries_a_transient_failure(patient, site, settings):
    settings.SMS_BACKEND = "tests.scheduling.test_reminders_send.FlakyGateway"
    FlakyGateway.failures = 2
    session = make_session(patient, site, START)
    row = session.reminders.get(kind="24h")
    with time_machine.travel(DUE_24H, tick=False):
        reminders.reminders_claim_due()
        outcomes = [reminders.reminder_deliver(reminder_id=row.pk) for _ in range(4)]
    assert outcomes == [
        (reminders.Outcome.RETRY, 2),
        (reminders.Outcome.RETRY, 3),
        (reminders.Outcome.SENT, 3),
        (reminders.Outcome.NOTHING, 3),
    ]
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("sent", 3)
    assert list(
        OutboxMessage.objects.filter(reference=f"reminder:{row.pk}").order_by("pk").values_list("status", flat=True)
    ) == ["failed", "failed", "sent"]


def test_the_task_retries_with_a_countdown(patient, site, settings):
    settings.SMS_BACKEND = "tests.scheduling.test_reminders_send.FlakyGateway"
    FlakyGateway.failures = 1
    session = make_session(patient, site, START)
    row = session.reminders.get(kind="24h")
    with time_machine.travel(DUE_24H, tick=False):
        reminders.reminders_claim_due()
        with pytest.raises(Retry) as retry:
            tasks.reminder_send.apply(args=[row.pk], throw=True)
    assert retry.value.when == settings.REMINDER_RETRY_BASE_SECONDS
    assert Reminder.objects.get(pk=row.pk).status == "sending"


def test_it_fails_after_the_limit_and_alerts(patient, site, settings):
    settings.SMS_BACKEND = "tests.scheduling.test_reminders_send.FlakyGateway"
    settings.REMINDER_MAX_ATTEMPTS = 3
    FlakyGateway.failures = 99
    session = make_session(patient, site, START)
    row = session.reminders.get(kind="24h")
    with time_machine.travel(DUE_24H, tick=False):
        reminders.reminders_claim_due()
        outcomes = [reminders.reminder_deliver(reminder_id=row.pk)[0] for _ in range(4)]
    assert outcomes == ["retry", "retry", "failed", "nothing"]
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == ("failed", 3, "gateway timed out")
    alert = StaffAlert.objects.get(kind="reminder_failed", session_id=session.pk)
    assert (alert.audience, alert.patient_id) == ("scheduler", patient.pk)


def test_the_backoff_doubles(settings):
    settings.REMINDER_RETRY_BASE_SECONDS = 30
    assert [reminders.retry_delay_seconds(n) for n in (2, 3, 4, 5)] == [30, 60, 120, 240]


def test_it_requeues_a_row_abandoned_in_sending(patient, site, settings):
    settings.REMINDER_SENDING_TIMEOUT_MINUTES = 10
    session = make_session(patient, site, START)
    with time_machine.travel(DUE_24H, tick=False):
        reminders.reminders_claim_due()
    row = session.reminders.get(kind="24h")
    with time_machine.travel(DUE_24H + dt.timedelta(minutes=5), tick=False):
        assert reminders.reminders_recover_stale() == (0, 0)
    with time_machine.travel(DUE_24H + dt.timedelta(minutes=11), tick=False):
        assert reminders.reminders_recover_stale() == (2, 0)
        row.refresh_from_db()
        assert row.status == "pending"
        assert row.pk in reminders.reminders_claim_due()
    row.refresh_from_db()
    assert row.attempts == 2


def test_it_fails_a_row_abandoned_too_often(patient, site, settings):
    settings.REMINDER_MAX_ATTEMPTS = 1
    session = make_session(patient, site, START)
    with time_machine.travel(DUE_24H, tick=False):
        reminders.reminders_claim_due()
    with time_machine.travel(DUE_24H + dt.timedelta(hours=1), tick=False):
        reminders.reminders_recover_stale()
    assert session.reminders.get(kind="24h").status == "failed"
    assert StaffAlert.objects.filter(kind="reminder_failed", session_id=session.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_recovery_leaves_a_row_being_sent_alone(patient, site, settings):
    session = make_session(patient, site, START)
    reminders.reminders_claim_due(now=DUE_24H)
    row = session.reminders.get(kind="24h")
    locked, release = threading.Event(), threading.Event()

    def sender():  # a slow send: holds the row lock
        try:
            with transaction.atomic():
                Reminder.objects.select_for_update().get(pk=row.pk)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=sender)
    thread.start()
    locked.wait(10)
    try:
        requeued, _ = reminders.reminders_recover_stale(now=DUE_24H + dt.timedelta(hours=1))
    finally:
        release.set()
        thread.join()
    assert requeued == 1  # the 72h row; the 24h row is being sent
    assert Reminder.objects.get(pk=row.pk).status == "sending"


def test_retry_from_the_outbox_requeues_a_failed_row(patient, site):
    session = make_session(patient, site, START)
    row = session.reminders.get(kind="24h")
    Reminder.objects.filter(pk=row.pk).update(status="failed", attempts=5, last_error="boom")
    assert reminders.reminder_retry(reminder=row)
    assert not reminders.reminder_retry(reminder=row)
    row.refresh_from_db()
    assert (row.status, row.attempts, row.due_at) == ("pending", 0, DUE_24H)


def test_it_alerts_schedulers_about_an_unconfirmed_ride(patient, site):
    no_ride = make_session(patient, site, START)
    unconfirmed = make_session(patient, site, START + dt.timedelta(hours=4))
    TransportArrangement.objects.create(session=unconfirmed, name="Sam")
    confirmed = make_session(patient, site, START + dt.timedelta(hours=8))
    TransportArrangement.objects.create(session=confirmed, name="Sam", status="confirmed_staff")
    later = make_session(patient, site, START + dt.timedelta(days=3))
    with time_machine.travel(START - dt.timedelta(hours=12), tick=False):
        assert tasks.rides_unconfirmed_check() == 2
        assert tasks.rides_unconfirmed_check() == 0
    alerts = StaffAlert.objects.filter(kind="ride_unconfirmed")
    assert set(alerts.values_list("session_id", flat=True)) == {no_ride.pk, unconfirmed.pk}
    assert set(alerts.values_list("audience", flat=True)) == {"scheduler"}
    assert not alerts.filter(session_id__in=[confirmed.pk, later.pk]).exists()


def test_schedulers_see_ride_alerts(patient, site, scheduler, nurse, client_for):
    make_session(patient, site, START)
    with time_machine.travel(START - dt.timedelta(hours=12), tick=False):
        tasks.rides_unconfirmed_check()
    response = client_for(scheduler).get("/alerts/")
    assert "No confirmed ride home" in response.content.decode()
    response = client_for(nurse).get("/alerts/")
    assert "No confirmed ride home" not in response.content.decode()


# --- Groups of reminders per send task ---------------------------------------------------


def test_a_group_sends_each_reminder_once_by_its_patients_channel(site, eager, settings):
    from tests import factories

    settings.REMINDER_SEND_GROUP = 3
    by_sms, by_email, opted_out = (factories.make_patient(site=site) for _ in range(3))
    by_email.preferred_channel = "email"
    by_email.save()
    opted_out.reminder_opt_out = True
    opted_out.save()
    sessions = [
        make_session(p, site, START + dt.timedelta(hours=3 * i)) for i, p in enumerate([by_sms, by_email, opted_out])
    ]
    cancelled = make_session(by_sms, site, START + dt.timedelta(hours=12))
    with time_machine.travel(DUE_24H + dt.timedelta(hours=13), tick=False):
        ids = reminders.reminders_claim_due()
        Session.objects.filter(pk=cancelled.pk).update(status="cancelled")
        counts = tasks.reminders_send(ids)
        assert tasks.reminders_send(ids) == {"nothing": len(ids)}  # the same group delivered again
    row = {s.pk: s.reminders.get(kind="24h") for s in sessions + [cancelled]}
    assert counts == {"sent": 4, "skipped": 2}  # 72h and 24h for two patients; opted out; cancelled
    assert (row[sessions[0].pk].status, row[sessions[1].pk].status) == ("sent", "sent")
    assert row[sessions[2].pk].skip_reason == "patient opted out of reminders"
    assert row[cancelled.pk].skip_reason == "session cancelled"
    outbox = {m.reference: m for m in OutboxMessage.objects.all()}
    assert len(outbox) == OutboxMessage.objects.count() == 4
    email = outbox[f"reminder:{row[sessions[1].pk].pk}"]
    assert (email.channel, email.to, email.backend) == ("email", by_email.email, "clinic.messaging.OutboxEmailBackend")
    assert email.subject and links.confirm_url(sessions[1].pk) in email.html_body
    sms = outbox[f"reminder:{row[sessions[0].pk].pk}"]
    assert (sms.channel, sms.to, sms.backend) == ("sms", by_sms.phone, "clinic.messaging.OutboxSmsBackend")


def test_the_tick_hands_out_groups(patient, site, settings, monkeypatch, django_capture_on_commit_callbacks):
    settings.REMINDER_SEND_GROUP = 4
    for day in range(5):
        make_session(patient, site, START + dt.timedelta(days=day))
    published = []
    monkeypatch.setattr(tasks.reminders_send, "apply_async", lambda args, **kw: published.append(args[0]))
    with time_machine.travel(START + dt.timedelta(days=3, hours=-23), tick=False):
        handed = run_tick(django_capture_on_commit_callbacks)  # 72h x 5, 24h and morning x 3 or 4
    assert handed >= 9
    assert [len(ids) for ids in published] == [4] * (handed // 4) + ([handed % 4] if handed % 4 else [])
    assert {i for ids in published for i in ids} == set(
        Reminder.objects.filter(status="sending").values_list("pk", flat=True)
    )


def test_a_transient_failure_in_a_group_retries_that_reminder_alone(patient, site, settings, monkeypatch):
    settings.SMS_BACKEND = "tests.scheduling.test_reminders_send.FlakyGateway"
    FlakyGateway.failures = 1
    make_session(patient, site, START)
    retried = []
    monkeypatch.setattr(tasks.reminder_send, "apply_async", lambda args, **kw: retried.append((args, kw)))
    with time_machine.travel(DUE_24H, tick=False):
        ids = reminders.reminders_claim_due()
        assert tasks.reminders_send(ids) == {"retry": 1, "sent": 1}
    assert len(retried) == 1
    assert retried[0][1] == {"countdown": settings.REMINDER_RETRY_BASE_SECONDS}
    assert Reminder.objects.get(pk=retried[0][0][0]).status == "sending"


@pytest.mark.django_db(transaction=True)
def test_two_tasks_with_the_same_group_at_once_send_each_reminder_once(patient, site, settings):
    settings.SMS_BACKEND = "clinic.messaging.OutboxSmsBackend"
    for day in range(10):
        make_session(patient, site, START + dt.timedelta(days=day))
    ids = reminders.reminders_claim_due(now=START + dt.timedelta(days=20))
    outcomes = twice_at_once(lambda: reminders.reminders_deliver(reminder_ids=ids))
    assert len(outcomes) == 2
    sent = [i for result in outcomes for i, (outcome, _) in result.items() if outcome == "sent"]
    assert len(ids) >= 20 and sorted(sent) == sorted(ids)  # each reminder sent by one of the two
    assert set(Reminder.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"sent"}
    references = list(OutboxMessage.objects.values_list("reference", flat=True))
    assert sorted(references) == sorted(reminders.reference_for(i) for i in ids)
