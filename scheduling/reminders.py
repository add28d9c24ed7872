"""Patient reminder rows: created when a session is booked, re-timed when it moves, skipped
(with the reason) when it is cancelled, marked no-show, or cannot be delivered.

``reminders_sync`` is the one entry point for the booking, move, cancel and no-show
services. It is safe to call any number of times. Rows that are ``sending``, ``sent`` or
``failed`` are never changed here: a message that went out stays recorded once, and the send
task re-checks the session before it sends, so a row claimed just before a cancellation is
skipped there instead.
"""

import base64
import dataclasses
import datetime as dt
import functools
import logging
import zoneinfo
from enum import StrEnum

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import dateformat, timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from clinic.audit import audit_record
from clinic.messaging import Outgoing, SendError, TransientSendError, batch_store, message_send
from clinic.models import AuditAction, StaffAlert

from . import rules_reminders as rules
from .models import Reminder, Session, SessionStatus, TransportArrangement
from .services import session_alert

logger = logging.getLogger(__name__)

# Sync only rewrites rows in these states (compare-and-set on the status).
_REWRITABLE = (Reminder.Status.PENDING, Reminder.Status.SKIPPED)


@functools.cache
def _kinds_cached(specs: tuple) -> tuple[rules.ReminderKind, ...]:
    return rules.parse_reminder_kinds([dict(spec) for spec in specs])


def reminder_kinds() -> tuple[rules.ReminderKind, ...]:
    """The configured reminder kinds (settings.REMINDER_KINDS)."""
    specs = tuple(tuple(sorted(spec.items())) for spec in settings.REMINDER_KINDS)
    return _kinds_cached(specs)


def session_plans(*, session: Session, existing: dict | None = None, now=None) -> list[rules.Plan]:
    """The desired state of every reminder row of ``session`` (no writes)."""
    patient = session.patient
    existing = existing or {}
    now = now or timezone.now()
    return [
        rules.plan_reminder(
            kind,
            start=session.start,
            tz=session.chair.site.tzinfo,
            now=now,
            session_status=session.status,
            opted_out=patient.reminder_opt_out,
            channel=patient.preferred_channel,
            phone=patient.phone,
            email=patient.email,
            existing=existing.get(kind.name),
        )
        for kind in reminder_kinds()
    ]


@transaction.atomic
def reminders_sync(*, session: Session) -> None:
    """Bring the reminder rows of ``session`` in line with its current time and state."""
    session = Session.objects.select_related("patient", "chair__site").get(pk=session.pk)
    rows = {row.kind: row for row in Reminder.objects.filter(session=session)}
    existing = {
        kind: rules.Existing(status=row.status, due_at=row.due_at, skip_reason=row.skip_reason)
        for kind, row in rows.items()
    }
    channel = session.patient.preferred_channel if session.patient.preferred_channel != "none" else ""
    to_create = []
    for plan in session_plans(session=session, existing=existing):
        row = rows.get(plan.kind)
        if row is None:
            to_create.append(
                Reminder(
                    session=session,
                    kind=plan.kind,
                    channel=channel,
                    due_at=plan.due_at,
                    status=plan.status,
                    skip_reason=plan.skip_reason,
                )
            )
            continue
        if row.status not in _REWRITABLE:
            continue
        if (row.status, row.due_at, row.skip_reason, row.channel) == (
            plan.status,
            plan.due_at,
            plan.skip_reason,
            channel,
        ):
            continue
        # Compare-and-set: a tick that claimed the row a moment ago wins; its send task
        # re-checks the session before sending.
        Reminder.objects.filter(pk=row.pk, status=row.status).update(
            status=plan.status, due_at=plan.due_at, skip_reason=plan.skip_reason, channel=channel
        )
    if to_create:
        # A concurrent sync may have created the same (session, kind): the unique constraint
        # keeps one row and the other insert is dropped.
        Reminder.objects.bulk_create(to_create, ignore_conflicts=True)


# --- The confirmation link ------------------------------------------------------------
# A short token (it has to fit in a 160-character SMS): the session id and a truncated
# HMAC of it. Links stay valid until the session starts; the confirm page checks that and
# the session's state on every request, so the token itself carries no expiry.

_TOKEN_SALT = "scheduling.confirm-link"  # noqa: S105 (a salt, not a secret)


def _token_mac(value: str) -> str:
    digest = salted_hmac(_TOKEN_SALT, value, algorithm="sha256").digest()[:12]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def confirm_token(session_id: int) -> str:
    value = format(session_id, "x")
    return f"{value}-{_token_mac(value)}"


def confirm_token_session_id(token: str) -> int | None:
    """The session id a token was made for, or None when it was not made by us."""
    value, _, mac = token.partition("-")
    if not value or len(token) > 64 or not constant_time_compare(mac, _token_mac(value)):
        return None
    try:
        return int(value, 16)
    except ValueError:
        return None


def confirm_url(session_id: int) -> str:
    path = reverse("confirm:session", args=[confirm_token(session_id)])
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


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
        "day": dateformat.format(local, "l j F"),
        "day_short": dateformat.format(local, "D j M"),
        "time": dateformat.format(local, "g:i A"),
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
                _mark_failed(row, "abandoned by a stopped worker too many times", now=now)
                failed += 1
            else:
                Reminder.objects.filter(pk=row["pk"], status=Reminder.Status.SENDING).update(
                    status=Reminder.Status.PENDING, last_error="requeued: the worker sending it stopped"
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
        dedupe_key=f"reminder-failed:{row['pk']}:{row['attempts']}:{now:%Y%m%d%H%M%S}"[:120],
        message=f"A {row['kind']} reminder for the session on {session.local_start():%a %d %b %H:%M} "
        "could not be sent.",
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
    reason = rules.session_problem(row["session_status"])
    if not reason and row["start"] <= now:
        reason = rules.REASON_STARTED
    if not reason and (row["opted_out"] or row["channel"] == "none"):
        reason = rules.REASON_OPTED_OUT
    if not reason:
        reason = rules.address_problem(channel=row["channel"], phone=row["phone"], email=row["email"])
    return reason


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


# --- Rides still unconfirmed ----------------------------------------------------------


def rides_unconfirmed_alert(*, now: dt.datetime | None = None) -> int:
    """Raise one scheduler alert per booked session starting within RIDE_CHECK_HOURS_BEFORE
    whose ride home is missing or unconfirmed. Idempotent; returns the number raised."""
    now = now or timezone.now()
    horizon = now + dt.timedelta(hours=settings.RIDE_CHECK_HOURS_BEFORE)
    already = StaffAlert.objects.filter(kind="ride_unconfirmed", session_id__isnull=False).values("session_id")
    sessions = (
        Session.objects.filter(status=SessionStatus.BOOKED, start__gt=now, start__lte=horizon)
        .filter(Q(transport__isnull=True) | Q(transport__status=TransportArrangement.Status.UNCONFIRMED))
        .exclude(pk__in=already)
        .select_related("chair__site", "patient")
    )
    raised = 0
    for session in sessions:
        raised += session_alert(
            session,
            kind="ride_unconfirmed",
            dedupe_key=f"ride-unconfirmed:session:{session.pk}",
            message=f"No confirmed ride home for {session.patient.full_name} on "
            f"{session.local_start():%a %d %b %H:%M}.",
            severity="warning",
            audience="scheduler",
            url=_safe_reverse("scheduling:session-detail", session.pk),
        )
    return raised


# --- The patient's answer through the link --------------------------------------------


def confirm_session_for_token(token: str, *, now: dt.datetime | None = None) -> tuple[Session | None, str]:
    """The session a confirmation link may act on, or (None, why-not). Links work while the
    session is booked and has not started; tampered tokens name no session at all."""
    session_id = confirm_token_session_id(token)
    if session_id is None:
        return None, "invalid"
    session = Session.objects.select_related("chair__site", "patient").filter(pk=session_id).first()
    if session is None:
        return None, "invalid"
    if session.status in (SessionStatus.CANCELLED, SessionStatus.NO_SHOW):
        return None, "cancelled"
    if session.status != SessionStatus.BOOKED or session.start <= (now or timezone.now()):
        return None, "expired"
    return session, ""


@transaction.atomic
def transport_confirm_by_patient(*, session: Session, name: str, phone: str, request=None) -> TransportArrangement:
    """The patient confirms they are coming and who drives them home. Creates the transport
    arrangement when missing; an empty ``phone`` keeps the one already recorded. Audited as
    a patient action."""
    session = Session.objects.select_for_update().get(pk=session.pk)
    transport, created = TransportArrangement.objects.select_for_update().get_or_create(session=session)
    before = {field: getattr(transport, field) for field in ("kind", "name", "phone", "status")}
    if name and name != transport.name:
        transport.kind = TransportArrangement.Kind.ESCORT
        transport.name = name
    transport.phone = phone or transport.phone
    transport.status = TransportArrangement.Status.CONFIRMED_PATIENT
    transport.confirmed_at = timezone.now()
    transport.confirmed_by = None
    transport.save()
    changed = sorted(field for field, value in before.items() if getattr(transport, field) != value)
    audit_record(
        action=AuditAction.CREATE if created else AuditAction.UPDATE,
        request=request,
        obj=transport,
        patient=session.patient_id,
        actor="patient",
        summary={"attendance": "confirmed", "fields": changed, "via": "reminder link"},
    )
    return transport
