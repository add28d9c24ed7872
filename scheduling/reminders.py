"""Patient reminder rows: created when a session is booked, re-timed when it moves, skipped
(with the reason) when it is cancelled, marked no-show, or cannot be delivered.

``reminders_sync`` is the one entry point for the booking, move, cancel and no-show
services. It is safe to call any number of times. Rows that are ``sending``, ``sent`` or
``failed`` are never changed here: a message that went out stays recorded once, and the send
task re-checks the session before it sends, so a row claimed just before a cancellation is
skipped there instead.
"""

import base64
import datetime as dt
import functools
import logging
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import dateformat, timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from clinic.audit import audit_record
from clinic.messaging import SendError, TransientSendError, message_send
from clinic.models import AuditAction, StaffAlert
from clinic.services import alert_raise

from . import rules_reminders as rules
from .models import Reminder, Session, SessionStatus, TransportArrangement

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


@dataclass(frozen=True)
class ReminderMessage:
    subject: str
    body: str
    html_body: str


def message_context(*, session: Session) -> dict:
    local = session.local_start()
    return {
        "clinic_name": settings.CLINIC_NAME,
        "clinic_phone": session.chair.site.phone or settings.CLINIC_PHONE,
        "day": dateformat.format(local, "l j F"),
        "day_short": dateformat.format(local, "D j M"),
        "time": dateformat.format(local, "g:i A"),
        "confirm_url": confirm_url(session.pk),
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
    context = message_context(session=reminder.session)
    prefix = _template_prefix(reminder.kind)
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
            Reminder.objects.select_for_update(skip_locked=True).filter(
                status=Reminder.Status.SENDING, claimed_at__lt=cutoff
            )
        )
        for row in stale:
            if row.attempts >= settings.REMINDER_MAX_ATTEMPTS:
                _mark_failed(row, "abandoned by a stopped worker too many times", now=now)
                failed += 1
            else:
                Reminder.objects.filter(pk=row.pk, status=Reminder.Status.SENDING).update(
                    status=Reminder.Status.PENDING, last_error="requeued: the worker sending it stopped"
                )
                requeued += 1
    if stale:
        logger.warning("reminders: requeued %d and failed %d rows abandoned in 'sending'", requeued, failed)
    return requeued, failed


def _mark_failed(row: Reminder, error: str, *, now: dt.datetime) -> None:
    Reminder.objects.filter(pk=row.pk).update(status=Reminder.Status.FAILED, last_error=error[:2000])
    session = Session.objects.select_related("chair").get(pk=row.session_id)
    alert_raise(
        kind="reminder_failed",
        dedupe_key=f"reminder-failed:{row.pk}:{row.attempts}:{now:%Y%m%d%H%M%S}"[:120],
        message=f"A {row.kind} reminder for the session on {session.local_start():%a %d %b %H:%M} could not be sent.",
        severity="warning",
        audience="scheduler",
        site_id=session.chair.site_id,
        patient_id=session.patient_id,
        session_id=session.pk,
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


# The columns reminder_deliver reads: the send-time checks, message_context and _mark_failed.
_DELIVER_FIELDS = (
    "session_id",
    "kind",
    "channel",
    "status",
    "attempts",
    "session__status",
    "session__start",
    "session__patient_id",
    "session__chair_id",
    "session__patient__reminder_opt_out",
    "session__patient__preferred_channel",
    "session__patient__phone",
    "session__patient__email",
    "session__chair__site_id",
    "session__chair__site__time_zone",
    "session__chair__site__phone",
)


def reminder_deliver(*, reminder_id: int) -> tuple[Outcome, int]:
    """Send one claimed reminder. Returns (outcome, attempts so far).

    The row is locked for the whole send, and only a row still ``sending`` is sent: a task
    delivered twice, or a task racing a requeued copy of itself, sends once. The session is
    re-checked first (cancelled, no-show, started, opted out, no address: skipped with the
    reason). The outbox row and the ``sent`` status commit in one transaction."""
    now = timezone.now()
    with transaction.atomic():
        # One query: locks the reminder row only (not the session, patient or site rows) and
        # loads just the columns the checks and the message need.
        row = next(
            iter(
                Reminder.objects.select_for_update(of=("self",))
                .select_related("session__patient", "session__chair__site")
                .only(*_DELIVER_FIELDS)
                .filter(pk=reminder_id)[:1]
            ),
            None,
        )
        if row is None or row.status != Reminder.Status.SENDING:
            return Outcome.NOTHING, row.attempts if row else 0
        session, patient = row.session, row.session.patient
        reason = rules.session_problem(session.status)
        if not reason and session.start <= now:
            reason = rules.REASON_STARTED
        if not reason and (patient.reminder_opt_out or patient.preferred_channel == "none"):
            reason = rules.REASON_OPTED_OUT
        channel = patient.preferred_channel
        if not reason:
            reason = rules.address_problem(channel=channel, phone=patient.phone, email=patient.email)
        if reason:
            Reminder.objects.filter(pk=row.pk).update(status=Reminder.Status.SKIPPED, skip_reason=reason)
            return Outcome.SKIPPED, row.attempts
        message = reminder_message(reminder=row, channel=channel)
        try:
            message_send(
                channel=channel,
                to=patient.phone if channel == "sms" else patient.email,
                subject=message.subject,
                body=message.body,
                html_body=message.html_body,
                reference=reference_for(row.pk),
            )
        except TransientSendError as exc:
            if row.attempts >= settings.REMINDER_MAX_ATTEMPTS:
                _mark_failed(row, str(exc), now=now)
                return Outcome.FAILED, row.attempts
            # Stays ``sending`` while the retry waits (a few minutes at most); claimed_at is
            # refreshed so the stale-row recovery leaves it alone meanwhile.
            Reminder.objects.filter(pk=row.pk).update(
                channel=channel, last_error=str(exc)[:2000], claimed_at=now, attempts=F("attempts") + 1
            )
            return Outcome.RETRY, row.attempts + 1
        except SendError as exc:
            _mark_failed(row, str(exc), now=now)
            return Outcome.FAILED, row.attempts
        Reminder.objects.filter(pk=row.pk).update(
            status=Reminder.Status.SENT, sent_at=now, channel=channel, last_error=""
        )
    return Outcome.SENT, row.attempts


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
        _, created = alert_raise(
            kind="ride_unconfirmed",
            dedupe_key=f"ride-unconfirmed:session:{session.pk}",
            message=f"No confirmed ride home for {session.patient.full_name} on "
            f"{session.local_start():%a %d %b %H:%M}.",
            severity="warning",
            audience="scheduler",
            site_id=session.chair.site_id,
            patient_id=session.patient_id,
            session_id=session.pk,
            url=_safe_reverse("scheduling:session-detail", session.pk),
        )
        raised += created
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
