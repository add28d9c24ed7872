"""Reads for the compliance report: plain rows for one site and period, in a fixed number of
queries whatever the period's size. Counting them by day is ``monitoring.report_days``, the
tables ``monitoring.reports``."""

import dataclasses
import datetime as dt

from django.db.models import BooleanField, Case, Count, DurationField, ExpressionWrapper, F, Min, Value, When
from django.db.models.functions import TruncDate

from clinic.models import Patient
from scheduling.models import Protocol, Session, SessionStatus

from . import rules
from .models import ReadingKind, VitalsReading

# The readings a report requires of a session; extra readings never make a record complete.
REQUIRED_KINDS = (ReadingKind.PRE_DOSE, ReadingKind.CHECKPOINT, ReadingKind.DISCHARGE)


def sessions_in(site, start: dt.datetime, end: dt.datetime):
    return Session.objects.filter(chair__site=site, start__gte=start, start__lt=end).order_by()


def protocols() -> dict[int, tuple[tuple[int, ...] | None, str]]:
    """Each protocol's checkpoint minutes (decoded once) and drug, by primary key."""
    return {
        pk: (tuple(int(m) for m in minutes) if minutes else None, drug)
        for pk, minutes, drug in Protocol.objects.order_by().values_list("pk", "checkpoint_minutes", "drug")
    }


def status_counts(site, start: dt.datetime, end: dt.datetime, *, now: dt.datetime) -> list[dict]:
    """Sessions counted by the site's local day, status and whether their time has come
    (``due``), with the earliest start of each group, in one query."""
    return list(
        sessions_in(site, start, end)
        .annotate(
            day=TruncDate("start", tzinfo=site.tzinfo),
            due=Case(When(start__lt=now, then=Value(True)), default=Value(False), output_field=BooleanField()),
        )
        .values("day", "status", "due")
        .annotate(n=Count("id"), first_start=Min("start"))
        .order_by()
    )


@dataclasses.dataclass
class DischargedSession:
    pk: int
    day: dt.date  # the site's local day of the session
    # The protocol whose checkpoints and drug apply: None for a session outside a course.
    protocol_id: int | None
    rems_submitted: bool
    observation_length: dt.timedelta | None  # from the start of observation to discharge
    readings: set  # (kind, checkpoint minute or None) of the effective required readings


def discharged_sessions(site, start: dt.datetime, end: dt.datetime) -> list[DischargedSession]:
    """The sessions discharged in the period with the (kind, minute) of their required
    readings and the length of their observation, in two queries: the readings, and the
    sessions as plain values (no dates to convert)."""
    discharged = sessions_in(site, start, end).filter(status=SessionStatus.DISCHARGED)
    # Corrected readings are not left out: a correction keeps the kind and checkpoint minute of
    # the reading it supersedes (``services.vitals_correct``), so the (kind, minute) pairs of a
    # session's readings are those of its effective readings, without an anti-join that probes
    # the supersedes index once per reading.
    readings = (
        VitalsReading.objects.filter(session__in=discharged.values("pk"), kind__in=REQUIRED_KINDS)
        .values_list("session_id", "kind", "checkpoint_minute")
        .order_by()
    )
    checkpoint = ReadingKind.CHECKPOINT.value
    have: dict[int, set] = {}
    for session_id, kind, minute in readings:
        have.setdefault(session_id, set()).add((kind, minute if kind == checkpoint else None))
    rows = discharged.annotate(
        day=TruncDate("start", tzinfo=site.tzinfo),
        length=ExpressionWrapper(
            F("observation__discharge__discharged_at") - F("observation__started_at"), output_field=DurationField()
        ),
    ).values_list("pk", "day", "course__protocol_id", "rems_submission", "length")
    return [
        DischargedSession(
            pk,
            day,
            protocol_id,
            rems_submitted=submission is not None,
            observation_length=length,
            readings=have.get(pk, set()),
        )
        for pk, day, protocol_id, submission, length in rows
    ]


_PERSON = ("first_name", "last_name", "username")


def _person_name(row: dict, prefix: str) -> str | None:
    """``_name`` of the user whose fields ``row`` holds under ``prefix`` (None without one)."""
    if row[f"{prefix}id"] is None:
        return None
    full = f"{row[prefix + 'first_name']} {row[prefix + 'last_name']}".strip()
    return full or row[prefix + "username"]


def has_after_dosing_bp(readings: set, minutes: tuple[int, ...]) -> bool:
    """The REMS form's "BP after dosing": among a session's (kind, minute) readings, one at the
    first of the checkpoints it requires."""
    return (ReadingKind.CHECKPOINT, min(minutes) if minutes else None) in readings


def rems_ready(sessions: list[DischargedSession], *, site) -> dict[int, bool]:
    """Whether the REMS record of each of ``sessions`` (discharged, at ``site``) has every field
    but the after-dosing BP, in two queries whatever their number, from plain rows. That one
    depends on the checkpoints required (``has_after_dosing_bp``), which the protocol and the
    thresholds decide when a report is read.

    The fields of ``selectors.rems_record`` that can be empty (each with its value, or ``True``
    where the value is always given when its source exists), judged by ``rules.rems_missing``, with
    the readings already loaded by ``discharged_sessions``. Only the required kinds are loaded:
    "pulse oximetry done" and the events fields then read "no reading" for a session with extra
    readings only, which is incomplete anyway for want of its pre-dose reading."""
    by_pk = {s.pk: s for s in sessions}
    if not by_pk:
        return {}
    clinician = "observation__discharge__discharged_by__"
    checker = "checkin__checked_in_by__"
    rows = (
        Session.objects.filter(pk__in=by_pk)
        .values(
            "pk",
            "patient_id",
            "checkin__id",
            "dose__id",
            "dose__dose_mg",
            "dose__lot_number",
            "observation__id",
            "observation__started_at",
            "observation__discharge__id",
            "observation__discharge__discharged_at",
            "observation__discharge__would_have_been_ready_at",
            f"{clinician}id",
            *(clinician + f for f in _PERSON),
            f"{checker}id",
            *(checker + f for f in _PERSON),
        )
        .order_by()
    )
    # The patients apart: joined to these few sessions, PostgreSQL would hash the whole table.
    rows = list(rows)
    patients = {
        pk: (sex, enrollment_id, enrollment_date)
        for pk, sex, enrollment_id, enrollment_date in Patient.objects.filter(
            pk__in={row["patient_id"] for row in rows}
        )
        .order_by()
        .values_list("pk", "sex", "rems_enrollment_id", "rems_enrollment_date")
    }
    sexes = dict(Patient._meta.get_field("sex").flatchoices)
    S = rules.RemsField
    out = {}
    for row in rows:
        session = by_pk[row["pk"]]
        sex, enrollment_id, enrollment_date = patients[row["patient_id"]]
        own = session.readings
        has_predose = (ReadingKind.PRE_DOSE, None) in own
        has_before_discharge = (ReadingKind.DISCHARGE, None) in own
        observed = row["observation__id"] is not None
        discharged = observed and row["observation__discharge__id"] is not None
        started = row["observation__started_at"] if observed else None
        enrolled = bool(enrollment_id and enrollment_date)
        dosed = row["dose__id"] is not None
        if discharged:
            who = _person_name(row, clinician)
        else:
            who = _person_name(row, checker) if row["checkin__id"] is not None else None
        fields = [
            S("Patient", "Sex", str(sexes.get(sex, sex))),
            S("Patient", "Enrolled in REMS", True if enrolled else None),
            S("Treatment", "Monitoring clinician", who),
            S("Treatment", "Site", site.name),
            S("Treatment", "Dose", True if dosed and row["dose__dose_mg"] is not None else None),
            S("Treatment", "Lot number", row["dose__lot_number"] if dosed else None),
            S(
                "Monitoring",
                "Total minutes from first device to end of monitoring",
                rules.minutes_between(started, row["observation__discharge__discharged_at"] if discharged else None),
            ),
            S(
                "Monitoring",
                "Minutes until the patient would have been ready to leave",
                rules.minutes_between(
                    started, row["observation__discharge__would_have_been_ready_at"] if discharged else None
                ),
            ),
            S("Monitoring", "Vital signs in range before dosing", True if has_predose else None),
            S("Monitoring", "Vital signs in range before discharge", True if has_before_discharge else None),
            S("Monitoring", "BP before dosing", True if has_predose else None),
            S("Monitoring", "BP before discharge", True if has_before_discharge else None),
            S("Monitoring", "Pulse oximetry done", True if own else None),
            S("Events", "Sedation", True if own else None),
            S("Events", "Dissociation", True if own else None),
            S("Events", "Respiratory depression", True if discharged else None),
            S("Events", "Serious adverse events", True if discharged else None),
        ]
        out[row["pk"]] = not rules.rems_missing(fields)
    return out
