"""Reads of outcome scores for pages and the report: a session's scores, a course's series,
the antidepressant history and eligibility, and the outcomes of courses by protocol and period.
Each read is a fixed number of queries whatever the data size."""

import dataclasses
import datetime as dt
from collections import defaultdict

from django.db.models import Max, Prefetch, Subquery

from clinic.models import Patient
from scheduling.models import Course, CourseReviewFlag, Protocol, ProtocolPhase, Session

from . import instruments, rules_outcomes
from .models_outcomes import AntidepressantTrial, EligibilityOverride, OutcomePlan, OutcomeScore, SafetyReview

REPORT_WEEKS = (4, 8)


def plan_for(protocol: Protocol | None) -> OutcomePlan:
    """The protocol's measurement plan, or the defaults (MADRS at the baseline, the end of the
    first phase and every 4 sessions; no eligibility check) when it has none."""
    plan = OutcomePlan.objects.filter(protocol=protocol).first() if protocol else None
    return plan or OutcomePlan(protocol=protocol)


# --- A session ------------------------------------------------------------------------


def session_scores(session: Session) -> list[OutcomeScore]:
    """The session's scores with their safety reviews (two queries)."""
    reviews = Prefetch("safety_reviews", SafetyReview.objects.select_related("prescriber"))
    return list(OutcomeScore.objects.filter(session=session).select_related("recorded_by").prefetch_related(reviews))


def review_of(score: OutcomeScore) -> SafetyReview | None:
    """The acknowledgement of the score's current answers (from ``session_scores``)."""
    return next((r for r in score.safety_reviews.all() if r.version == score.version), None)


def rating_due(session: Session) -> str:
    """Why a clinician rating is due at this session ("" when it is not): one query."""
    if not session.course_id:
        return ""
    course = session.course
    plan = plan_for(course.protocol)
    # The last session of the first phase, in one read: the course's sessions of that phase.
    first_phase = ProtocolPhase.objects.filter(protocol_id=course.protocol_id).order_by("order").values("name")[:1]
    last_of_first = Session.objects.filter(course=course, phase_name=Subquery(first_phase)).aggregate(
        last=Max("sequence")
    )["last"]
    return rules_outcomes.rating_due(
        sequence=session.sequence, last_of_first_phase=last_of_first, every=plan.rating_every_sessions
    )


# --- A course -------------------------------------------------------------------------


@dataclasses.dataclass
class Series:
    instrument: instruments.Instrument
    points: list[rules_outcomes.Point]
    start: dt.date

    @property
    def baseline(self) -> rules_outcomes.Point | None:
        return rules_outcomes.baseline(self.points)

    @property
    def latest(self) -> rules_outcomes.Point | None:
        return self.points[-1] if len(self.points) > 1 else None

    @property
    def words(self) -> str:
        """E.g. "Response at week 4: MADRS 34 -> 15, -56%" (empty with fewer than two scores)."""
        first, last = self.baseline, self.latest
        if first is None or last is None:
            return ""
        week = rules_outcomes.course_week(self.start, last.on)
        return rules_outcomes.status_words(self.instrument, first.total, last.total, week)

    @property
    def status(self) -> str:
        first, last = self.baseline, self.latest
        if first is None or last is None:
            return ""
        return rules_outcomes.status(self.instrument, first.total, last.total)


def _local_date(score: OutcomeScore) -> dt.date:
    return score.session.local_start().date()


def course_series(course: Course) -> list[Series]:
    """Each instrument's scores over the course, in the order of its sessions (one query)."""
    scores = (
        OutcomeScore.objects.filter(session__course=course)
        .select_related("session__chair__site")
        .order_by("session__start", "pk")
    )
    by_instrument: dict[str, list[rules_outcomes.Point]] = defaultdict(list)
    for score in scores:
        by_instrument[score.instrument].append(rules_outcomes.Point(_local_date(score), score.total))
    return [
        Series(instruments.get(code), by_instrument[code], course.start_date)
        for code in instruments.INSTRUMENTS
        if by_instrument.get(code)
    ]


def open_review_flags(course: Course) -> list[CourseReviewFlag]:
    """The course's flags for a prescriber's review still waiting for a decision (one query)."""
    return list(CourseReviewFlag.objects.filter(course=course, review__isnull=True, cleared_at__isnull=True))


# --- Antidepressant history and eligibility --------------------------------------------


def patient_trials(patient: Patient) -> list[AntidepressantTrial]:
    return list(AntidepressantTrial.objects.filter(patient=patient).select_related("recorded_by"))


def rule_trials(trials) -> list[rules_outcomes.Trial]:
    return [
        rules_outcomes.Trial(
            adequate_dose=t.adequate_dose,
            weeks=t.weeks,
            failed=t.outcome in AntidepressantTrial.FAILED,
            current=t.outcome == AntidepressantTrial.Outcome.CURRENT,
        )
        for t in trials
    ]


def eligibility_reasons(*, patient: Patient, protocol: Protocol, overrides: bool = True) -> list[str]:
    """Why the patient may not start a course of ``protocol`` (empty: they may). With
    ``overrides``, the reasons a prescriber's latest override saw are lifted."""
    plan = plan_for(protocol)
    if not plan.requires_trd_eligibility:
        return []
    reasons = rules_outcomes.eligibility_reasons(rule_trials(AntidepressantTrial.objects.filter(patient=patient)))
    if reasons and overrides:
        override = (
            EligibilityOverride.objects.filter(patient=patient, protocol=protocol).order_by("-created_at").first()
        )
        if override is not None:
            reasons = [r for r in reasons if r not in override.reasons]
    return reasons


def eligibility_overrides(patient: Patient) -> list[EligibilityOverride]:
    return list(EligibilityOverride.objects.filter(patient=patient).select_related("protocol", "prescriber"))


def trd_protocols() -> list[Protocol]:
    return list(Protocol.objects.filter(outcome_plan__requires_trd_eligibility=True, active=True).order_by("name"))


# --- The outcomes report ----------------------------------------------------------------


@dataclasses.dataclass
class ProtocolOutcomes:
    protocol: Protocol
    instrument: instruments.Instrument
    courses: int
    rates: list[rules_outcomes.Rate]


def outcomes_report(*, start: dt.date, end: dt.date, protocol: Protocol | None = None) -> list[ProtocolOutcomes]:
    """Per protocol, the courses started from ``start`` to ``end`` (inclusive) and their
    response and remission rates at weeks 4 and 8, on the protocol's clinician-rated instrument
    and on the PHQ-9, with the courses missing a score counted apart. Three queries."""
    courses = Course.objects.filter(start_date__gte=start, start_date__lte=end).select_related("protocol")
    if protocol is not None:
        courses = courses.filter(protocol=protocol)
    courses = list(courses.order_by("protocol__name", "start_date", "pk"))
    plans = {p.protocol_id: p for p in OutcomePlan.objects.filter(protocol_id__in={c.protocol_id for c in courses})}
    scores = (
        OutcomeScore.objects.filter(session__course__in=courses)
        .select_related("session__chair__site")
        .order_by("session__start", "pk")
    )
    points: dict[tuple[int, str], list[rules_outcomes.Point]] = defaultdict(list)
    for score in scores:
        points[score.session.course_id, score.instrument].append(rules_outcomes.Point(_local_date(score), score.total))
    by_protocol: dict[int, list[Course]] = defaultdict(list)
    for course in courses:
        by_protocol[course.protocol_id].append(course)
    report = []
    for protocol_courses in by_protocol.values():
        first = protocol_courses[0].protocol
        plan = plans.get(first.pk) or OutcomePlan(protocol=first)
        for code in dict.fromkeys((plan.clinician_instrument, instruments.PHQ9)):
            instrument = instruments.get(code)
            rates = []
            for week in REPORT_WEEKS:
                outcomes = [
                    rules_outcomes.outcome_at_week(
                        instrument, points.get((c.pk, code), []), start=c.start_date, week=week
                    )
                    for c in protocol_courses
                ]
                rates += rules_outcomes.rates(outcomes, week=week)
            report.append(ProtocolOutcomes(first, instrument, len(protocol_courses), rates))
    return report
