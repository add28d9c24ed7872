"""Celery tasks for patient reminders and ride checks. Tasks take ids and call one service;
each is safe to run twice.

Nothing is scheduled hours ahead: rows wait in the database with their due time and the
beat tick (every minute) hands out those that are due. Only the short retry backoff of a
failed send uses a countdown (minutes, never hours).
"""

import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction

from . import reminders, services

logger = logging.getLogger(__name__)

# One tick claims at most this many batches, so a large backlog drains over a few ticks
# instead of one tick running for ever.
MAX_BATCHES_PER_TICK = 20


@shared_task(name="scheduling.tasks.reminders_tick", ignore_result=True)
def reminders_tick() -> int:
    """Requeue rows abandoned by a stopped worker, then claim due rows and hand them to
    ``reminders_send`` in groups of REMINDER_SEND_GROUP ids. Returns the number handed out."""
    reminders.reminders_recover_stale()
    handed = 0
    for _ in range(MAX_BATCHES_PER_TICK):
        ids = reminders.reminders_claim_due()
        _enqueue(ids)
        handed += len(ids)
        if len(ids) < settings.REMINDER_BATCH_SIZE:
            break
    return handed


def _enqueue(ids: list[int]) -> None:
    # A claim that committed but whose task message was never published (the tick died in
    # between) is picked up by reminders_recover_stale after the timeout.
    # One broker connection and producer for the whole batch instead of one per message.
    group = settings.REMINDER_SEND_GROUP
    with reminders_send.app.producer_or_acquire() as producer:
        for first in range(0, len(ids), group):
            reminders_send.apply_async((ids[first : first + group],), producer=producer)


@shared_task(name="scheduling.tasks.reminders_send", ignore_result=True, acks_late=True)
def reminders_send(reminder_ids: list[int]) -> dict[str, int]:
    """Send a group of claimed reminders (see reminders.reminders_deliver). A reminder that
    failed transiently is retried on its own after the backoff, as ``reminder_send``.
    Returns the count per outcome."""
    counts: dict[str, int] = {}
    for reminder_id, (outcome, attempts) in reminders.reminders_deliver(reminder_ids=reminder_ids).items():
        counts[outcome.value] = counts.get(outcome.value, 0) + 1
        if outcome == reminders.Outcome.RETRY:
            countdown = reminders.retry_delay_seconds(attempts)
            logger.info("reminder %s: transient failure, retry %s in %ss", reminder_id, attempts, countdown)
            reminder_send.apply_async((reminder_id,), countdown=countdown)
    return counts


@shared_task(
    name="scheduling.tasks.reminder_send",
    bind=True,
    ignore_result=True,
    acks_late=True,
    max_retries=None,  # the attempt limit is REMINDER_MAX_ATTEMPTS, counted on the row
)
def reminder_send(self, reminder_id: int) -> str:
    """Send one claimed reminder; a transient failure retries this task after the backoff."""
    outcome, attempts = reminders.reminder_deliver(reminder_id=reminder_id)
    if outcome == reminders.Outcome.RETRY:
        countdown = reminders.retry_delay_seconds(attempts)
        logger.info("reminder %s: transient failure, retry %s in %ss", reminder_id, attempts, countdown)
        raise self.retry(countdown=countdown)
    return outcome.value


@shared_task(name="scheduling.tasks.rides_unconfirmed_check", ignore_result=True)
def rides_unconfirmed_check() -> int:
    with transaction.atomic():
        return services.rides_unconfirmed_alert()
