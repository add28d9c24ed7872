"""Sending patient reminders: the message content, claiming due rows, sending them through
the clinic's channels, and recovering rows a stopped worker left behind. Which rows a session
needs is planned in reminders_plan; the rules are in rules_reminders.
"""

import dataclasses
import datetime as dt
import functools
import logging
import zoneinfo
from enum import StrEnum

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext

from clinic.formats import when
from clinic.messaging import Outgoing, SendError, TransientSendError, batch_store, message_send

from . import rules_reminders as rules
from .links import confirm_url
from .models import Reminder, Session
from .reminders_plan import reminder_kinds
from .services import session_alert

logger = logging.getLogger(__name__)


# --- Message content ------------------------------------------------------------------
# Minimum necessary: clinic name, day, time, confirm link, clinic phone. Nothing about the
# drug, the diagnosis or the treatment (tests render every template and check).

SMS_MAX_CHARS = 160


@dataclasses.dataclass(frozen=True)
class ReminderMessage:
    subject: str
    body: str
    html_body: str


def message_context(*, session: Session) -> dict:
    return _context(
        session_id=session.pk,
        start=session.start,
        time_zone=session.chair.site.time_zone,
        site_phone=session.chair.site.phone,
    )


@functools.cache
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def _context(*, session_id: int, start: dt.datetime, time_zone: str, site_phone: str) -> dict:
    local = timezone.localtime(start, _zone(time_zone))
    return {
        "clinic_name": settings.CLINIC_NAME,
        "clinic_phone": site_phone or settings.CLINIC_PHONE,
        "day": when(local, "long_day"),
        "day_short": when(local, "day"),
        "time": when(local, "time"),
        "confirm_url": confirm_url(session_id),
        "no_food_hours": settings.REMINDER_PREP_NO_FOOD_HOURS,
        "no_drink_minutes": settings.REMINDER_PREP_NO_DRINK_MINUTES,
    }


@functools.cache
def _same_day_kinds(kinds: tuple[rules.ReminderKind, ...]) -> frozenset[str]:
    return frozenset(k.name for k in kinds if k.is_same_day_note)


def _template_prefix(kind: str) -> str:
    return "emails/morning" if kind in _same_day_kinds(reminder_kinds()) else "emails/reminder"


def reminder_message(*, reminder: Reminder, channel: str) -> ReminderMessage:
    """Render the reminder for ``channel``: an SMS body (<= 160 characters) or an e-mail."""
    return _render(kind=reminder.kind, channel=channel, context=message_context(session=reminder.session))


def _render(*, kind: str, channel: str, context: dict) -> ReminderMessage:
    prefix = _template_prefix(kind)
    if channel == "sms":
        body = ""
        for name in (f"{prefix}_sms.txt", f"{prefix}_sms_short.txt"):
            body = " ".join(render_to_string(name, context).split())
            if len(body) <= SMS_MAX_CHARS:
                break
        return ReminderMessage(subject="", body=body[:SMS_MAX_CHARS], html_body="")
    subject = " ".join(render_to_string(f"{prefix}_subject.txt", context).split())
    return ReminderMessage(
        subject=subject,
        body=render_to_string(f"{prefix}_body.txt", context),
        html_body=render_to_string(f"{prefix}_body.html", context),
    )


# --- Claiming and sending -------------------------------------------------------------


def reference_for(reminder_id: int) -> str:
    return f"reminder:{reminder_id}"


def reminders_claim_due(*, now: dt.datetime | None = None, limit: int | None = None) -> list[int]:
    """Claim up to ``limit`` due reminders (pending -> sending) and return their ids.

    Two ticks running at once never claim the same row: the rows are locked with SKIP LOCKED
    and the update is a compare-and-set on ``status = 'pending'``. On SQLite (the embedded
    default) the IMMEDIATE transaction serialises the ticks instead."""
    now = now or timezone.now()
    limit = limit or settings.REMINDER_BATCH_SIZE
    with transaction.atomic():
        ids = list(
            Reminder.objects.select_for_update(skip_locked=True)
            .filter(status=Reminder.Status.PENDING, due_at__lte=now)
            .order_by("due_at")
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return []
        claimed = Reminder.objects.filter(pk__in=ids, status=Reminder.Status.PENDING).update(
            status=Reminder.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1
        )
        if claimed != len(ids):  # cannot happen while the rows are locked; never send unclaimed rows
            raise RuntimeError(f"claimed {claimed} of {len(ids)} locked reminders")
    return ids


def reminders_recover_stale(*, now: dt.datetime | None = None) -> tuple[int, int]:
    """Put back rows left in ``sending`` by a worker that died (or a lost task message).

    A row is abandoned when it has been ``sending`` for longer than
    REMINDER_SENDING_TIMEOUT_MINUTES and no worker holds its row lock (a worker holds the lock
    for the whole send). Such a row goes back to ``pending`` (the next tick sends it) or, once
    it has used REMINDER_MAX_ATTEMPTS claims, to ``failed`` with a staff alert. Nothing was
    recorded as sent for it: the outbox row and the ``sent`` status commit together.
    Returns (requeued, failed)."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(minutes=settings.REMINDER_SENDING_TIMEOUT_MINUTES)
    requeued = failed = 0
    with transaction.atomic():
        stale = list(
            Reminder.objects.select_for_update(skip_locked=True)
            .filter(status=Reminder.Status.SENDING, claimed_at__lt=cutoff)
            .values("pk", "kind", "attempts", "session_id")
        )
        for row in stale:
            if row["attempts"] >= settings.REMINDER_MAX_ATTEMPTS:
                _mark_failed(row, gettext("abandoned by a stopped worker too many times"), now=now)
                failed += 1
            else:
                Reminder.objects.filter(pk=row["pk"], status=Reminder.Status.SENDING).update(
                    status=Reminder.Status.PENDING, last_error=gettext("requeued: the worker sending it stopped")
                )
                requeued += 1
    if stale:
        logger.warning("reminders: requeued %d and failed %d rows abandoned in 'sending'", requeued, failed)
    return requeued, failed


def _mark_failed(row: dict, error: str, *, now: dt.datetime) -> None:
    """``row`` has the reminder's pk, kind, attempts and session_id."""
    Reminder.objects.filter(pk=row["pk"]).update(status=Reminder.Status.FAILED, sent_at=None, last_error=error[:2000])
    session = Session.objects.select_related("chair__site").get(pk=row["session_id"])
    session_alert(
        session,
        kind="reminder_failed",
        dedupe_key=f"reminder-failed:{row['pk']}:{row['attempts']}:{now.isoformat()}"[:120],
        message=gettext("A %(kind)s reminder for the session on %(when)s could not be sent.")
        % {"kind": row["kind"], "when": when(session.local_start(), "day_time")},
        severity="warning",
        audience="scheduler",
        url=_safe_reverse("clinic:outbox") + "?status=failed",
    )


def _safe_reverse(name: str, *args) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


class Outcome(StrEnum):
    SENT = "sent"
    SKIPPED = "skipped"
    RETRY = "retry"
    FAILED = "failed"
    NOTHING = "nothing"  # not ours to send (already sent, skipped or requeued)


# What the send needs, loaded for a whole batch in one query: the send-time checks,
# message_context and _mark_failed.
_SEND_VALUES = {
    "pk": "pk",
    "session_id": "session_id",
    "kind": "kind",
    "status": "status",
    "attempts": "attempts",
    "session_status": "session__status",
    "start": "session__start",
    "patient_id": "session__patient_id",
    "site_id": "session__chair__site_id",
    "opted_out": "session__patient__reminder_opt_out",
    "channel": "session__patient__preferred_channel",
    "phone": "session__patient__phone",
    "email": "session__patient__email",
    "time_zone": "session__chair__site__time_zone",
    "site_phone": "session__chair__site__phone",
}


def reminder_deliver(*, reminder_id: int) -> tuple[Outcome, int]:
    """Send one claimed reminder. Returns (outcome, attempts so far)."""
    return reminders_deliver(reminder_ids=[reminder_id])[reminder_id]


def reminders_deliver(*, reminder_ids: list[int]) -> dict[int, tuple[Outcome, int]]:
    """Send claimed reminders. Returns {id: (outcome, attempts so far)}.

    The rows and what the messages need are read in one query. Only a row still ``sending``
    is sent, under a row lock held until its transaction commits: a task delivered twice, or
    racing a requeued copy of itself, sends once, and the stale-row recovery leaves a row
    being sent alone. The session is re-checked first (cancelled, no-show, started, opted
    out, no address: skipped with the reason). The outbox row and the ``sent`` status commit
    together.

    Channels whose backend only stores messages in the outbox are sent as one transaction per
    channel and batch (one INSERT, one UPDATE). Channels that deliver outside the database (an
    SMS gateway, SMTP) send one message per transaction, so a crash can repeat at most the
    message in flight."""
    names, paths = list(_SEND_VALUES), list(_SEND_VALUES.values())
    loaded = {
        values[0]: dict(zip(names, values, strict=True))
        for values in Reminder.objects.filter(pk__in=reminder_ids).values_list(*paths)
    }
    results: dict[int, tuple[Outcome, int]] = {}
    stores: dict[str, object] = {}
    batches: dict[str, list[dict]] = {}
    for reminder_id in reminder_ids:
        row = loaded.get(reminder_id)
        if row is None:
            results[reminder_id] = (Outcome.NOTHING, 0)
        elif row["status"] != Reminder.Status.SENDING:
            results[reminder_id] = (Outcome.NOTHING, row["attempts"])
        else:
            channel = row["channel"]
            if channel not in stores:
                stores[channel] = batch_store(channel)
            if stores[channel] is None:
                results[reminder_id] = _deliver_one(row)
            else:
                batches.setdefault(channel, []).append(row)
    for channel, rows in batches.items():
        results.update(_deliver_stored(rows, channel=channel, store=stores[channel]))
    return results


def _deliver_stored(rows: list[dict], *, channel: str, store) -> dict[int, tuple[Outcome, int]]:
    """Send a batch through a backend that only stores: one transaction for the batch."""
    now = timezone.now()
    results = {}
    with transaction.atomic():
        # Locked in id order (two batches never wait on each other in a cycle). A second task
        # for the same rows waits here, then finds them no longer ``sending``.
        locked = set(
            Reminder.objects.select_for_update()
            .filter(pk__in=[row["pk"] for row in rows], status=Reminder.Status.SENDING)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        sent, messages = [], []
        for row in rows:
            pk, attempts = row["pk"], row["attempts"]
            if pk not in locked:
                results[pk] = (Outcome.NOTHING, attempts)
                continue
            reason = _skip_reason(row, now)
            if reason:
                Reminder.objects.filter(pk=pk).update(status=Reminder.Status.SKIPPED, skip_reason=reason)
                results[pk] = (Outcome.SKIPPED, attempts)
                continue
            messages.append(_outgoing(row, channel))
            sent.append(pk)
            results[pk] = (Outcome.SENT, attempts)
        if sent:
            store(messages)
            Reminder.objects.filter(pk__in=sent).update(
                status=Reminder.Status.SENT, sent_at=now, channel=channel, last_error=""
            )
    return results


def _outgoing(row: dict, channel: str) -> Outgoing:
    """The message for a row loaded by reminders_deliver, addressed for ``channel``."""
    context = _context(
        session_id=row["session_id"], start=row["start"], time_zone=row["time_zone"], site_phone=row["site_phone"]
    )
    message = _render(kind=row["kind"], channel=channel, context=context)
    return Outgoing(
        to=row["phone"] if channel == "sms" else row["email"],
        subject=message.subject,
        body=message.body,
        html_body=message.html_body,
        reference=reference_for(row["pk"]),
    )


def _skip_reason(row: dict, now: dt.datetime) -> str:
    return rules.skip_reason(
        session_status=row["session_status"],
        opted_out=row["opted_out"],
        channel=row["channel"],
        phone=row["phone"],
        email=row["email"],
        started=row["start"] <= now,
    )


def _deliver_one(row: dict) -> tuple[Outcome, int]:
    now = timezone.now()
    pk, attempts, channel = row["pk"], row["attempts"], row["channel"]
    sending = Reminder.objects.filter(pk=pk, status=Reminder.Status.SENDING)
    reason = _skip_reason(row, now)
    if reason:
        with transaction.atomic():
            skipped = sending.update(status=Reminder.Status.SKIPPED, skip_reason=reason)
        return (Outcome.SKIPPED if skipped else Outcome.NOTHING), attempts
    outgoing = _outgoing(row, channel)
    with transaction.atomic():
        # The compare-and-set takes the row lock; another sender waits here and then finds
        # the row no longer ``sending``.
        if not sending.update(status=Reminder.Status.SENT, sent_at=now, channel=channel, last_error=""):
            return Outcome.NOTHING, attempts
        try:
            message_send(channel=channel, **dataclasses.asdict(outgoing))
        except TransientSendError as exc:
            if attempts >= settings.REMINDER_MAX_ATTEMPTS:
                _mark_failed(row, str(exc), now=now)
                return Outcome.FAILED, attempts
            # Back to ``sending`` while the retry waits (a few minutes at most); claimed_at is
            # refreshed so the stale-row recovery leaves it alone meanwhile. The failed outbox
            # row commits with it.
            Reminder.objects.filter(pk=pk).update(
                status=Reminder.Status.SENDING,
                sent_at=None,
                last_error=str(exc)[:2000],
                claimed_at=now,
                attempts=F("attempts") + 1,
            )
            return Outcome.RETRY, attempts + 1
        except SendError as exc:
            _mark_failed(row, str(exc), now=now)
            return Outcome.FAILED, attempts
    return Outcome.SENT, attempts


def retry_delay_seconds(attempts: int) -> int:
    """Exponential backoff: base, 2 x base, 4 x base ... (attempts counts from 1)."""
    return settings.REMINDER_RETRY_BASE_SECONDS * 2 ** max(attempts - 2, 0)


@transaction.atomic
def reminder_retry(*, reminder: Reminder) -> bool:
    """Put a failed reminder back in the queue (the outbox retry button). Compare-and-set."""
    return (
        Reminder.objects.filter(pk=reminder.pk, status=Reminder.Status.FAILED).update(
            status=Reminder.Status.PENDING, attempts=0, claimed_at=None
        )
        == 1
    )
