"""Measurement-based care, decided in one place: scoring and severity bands, the safety item,
response / remission / worsening against the baseline, which week of the course a score
belongs to, when a clinician rating is due, and eligibility for a treatment-resistant
depression course. Pure functions (no database); pages, services and the report call them."""

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from .instruments import RESPONSE_DROP, Band, Instrument

# --- Scoring --------------------------------------------------------------------------


def answer_errors(instrument: Instrument, answers: Sequence) -> dict[int, str]:
    """Item number -> what is wrong with its answer (empty when every item has a valid answer)."""
    allowed = {o.value for o in instrument.options}
    errors = {}
    for item in instrument.items:
        value = answers[item.number - 1] if item.number - 1 < len(answers) else None
        if value is None or isinstance(value, bool) or not isinstance(value, int):
            errors[item.number] = _("Choose an answer.")
        elif value not in allowed:
            errors[item.number] = _("Choose an answer from %(low)s to %(high)s.") % {
                "low": min(allowed),
                "high": max(allowed),
            }
    if len(answers) > len(instrument.items):
        errors[len(instrument.items) + 1] = _("Too many answers.")
    return errors


def total(instrument: Instrument, answers: Sequence[int]) -> int:
    """The instrument's total: the sum of its item answers."""
    if answer_errors(instrument, answers):
        raise ValueError(f"{instrument.name}: every item needs a valid answer")
    return sum(answers)


def band(instrument: Instrument, score: int) -> Band:
    """The severity band of a total."""
    for b in instrument.bands:
        if b.low <= score <= b.high:
            return b
    raise ValueError(f"{instrument.name} total {score} is outside 0-{instrument.max_total}")


def safety_positive(instrument: Instrument, answers: Sequence[int]) -> bool:
    """The safety item (PHQ-9 item 9) answered at or above its threshold: an alert now, and
    dosing waits for a prescriber's acknowledgement."""
    if instrument.safety_item is None or len(answers) < instrument.safety_item:
        return False
    return answers[instrument.safety_item - 1] >= instrument.safety_min


# In English; the session day shows it in the clinic's language.
SAFETY_BLOCK = gettext_noop(
    "PHQ-9 item 9 (thoughts of being better off dead or of self-harm) answered above 0: "
    "a prescriber must acknowledge it with a note before dosing"
)


def safety_blocks(*, review_pending: bool) -> list[str]:
    """The dosing wait of the safety item: part of the session day's dosing blocks, lifted
    only by a prescriber's acknowledgement (never by a pre-dose override)."""
    return [_(SAFETY_BLOCK)] if review_pending else []


# --- Against the baseline -------------------------------------------------------------


def change_percent(baseline: int, current: int) -> int | None:
    """The change from the baseline in percent, rounded (None for a baseline of 0)."""
    if baseline <= 0:
        return None
    return round((current - baseline) * 100 / baseline)


def is_response(baseline: int, current: int) -> bool:
    """A drop of at least 50 % from the baseline."""
    return baseline > 0 and (baseline - current) >= RESPONSE_DROP * baseline


def is_remission(instrument: Instrument, current: int) -> bool:
    return current <= instrument.remission_max


def is_worsening(instrument: Instrument, baseline: int, current: int) -> bool:
    """A rise of at least the instrument's own threshold above the baseline."""
    return current - baseline >= instrument.worsening_points


REMISSION, RESPONSE, WORSENING, NO_RESPONSE = "remission", "response", "worsening", "no response"


def status(instrument: Instrument, baseline: int, current: int) -> str:
    """Remission (which implies a response when the baseline was above the line), response,
    worsening or no response."""
    if is_remission(instrument, current) and baseline > instrument.remission_max:
        return REMISSION
    if is_response(baseline, current):
        return RESPONSE
    if is_worsening(instrument, baseline, current):
        return WORSENING
    return NO_RESPONSE


# The words of each status: (with the change in percent, without it: a baseline of 0).
STATUS_WORDS = {
    REMISSION: (
        gettext_noop("Remission at week %(week)s: %(scale)s %(baseline)s -> %(current)s, %(change)s%%"),
        gettext_noop("Remission at week %(week)s: %(scale)s %(baseline)s -> %(current)s"),
    ),
    RESPONSE: (
        gettext_noop("Response at week %(week)s: %(scale)s %(baseline)s -> %(current)s, %(change)s%%"),
        gettext_noop("Response at week %(week)s: %(scale)s %(baseline)s -> %(current)s"),
    ),
    WORSENING: (
        gettext_noop("Worsening at week %(week)s: %(scale)s %(baseline)s -> %(current)s, %(change)s%%"),
        gettext_noop("Worsening at week %(week)s: %(scale)s %(baseline)s -> %(current)s"),
    ),
    NO_RESPONSE: (
        gettext_noop("No response at week %(week)s: %(scale)s %(baseline)s -> %(current)s, %(change)s%%"),
        gettext_noop("No response at week %(week)s: %(scale)s %(baseline)s -> %(current)s"),
    ),
}


def status_words(instrument: Instrument, baseline: int, current: int, week: int) -> str:
    """E.g. "Response at week 4: MADRS 34 -> 15, -56%"."""
    pct = change_percent(baseline, current)
    with_change, without = STATUS_WORDS[status(instrument, baseline, current)]
    values = {"week": week, "scale": instrument.name, "baseline": baseline, "current": current}
    if pct is None:
        return _(without) % values
    return _(with_change) % {**values, "change": f"{pct:+d}"}


# --- Weeks of a course ------------------------------------------------------------------


def course_week(start: dt.date, on: dt.date) -> int:
    """The week of the course a day falls in: the first week of treatment is week 1 (days 0-6
    after the start); a score taken before the start is week 0 (the baseline)."""
    days = (on - start).days
    return 0 if days < 0 else days // 7 + 1


@dataclasses.dataclass(frozen=True)
class Point:
    on: dt.date
    total: int


def baseline(points: Iterable[Point]) -> Point | None:
    """The first score of the course (before or at its first session)."""
    ordered = sorted(points, key=lambda p: p.on)
    return ordered[0] if ordered else None


def at_week(points: Iterable[Point], *, start: dt.date, week: int, window: int = 1) -> Point | None:
    """The score that stands for week ``week``: the one whose week is closest to it, at most
    ``window`` weeks away (the later one on a tie); None when there is none (missing)."""
    best = None
    for p in points:
        distance = abs(course_week(start, p.on) - week)
        if distance > window:
            continue
        key = (distance, -p.on.toordinal())
        if best is None or key < best[0]:
            best = (key, p)
    return best[1] if best else None


@dataclasses.dataclass(frozen=True)
class WeekOutcome:
    """One course's outcome at a week: ``missing`` without a baseline or a score that week."""

    missing: bool
    response: bool = False
    remission: bool = False


def outcome_at_week(instrument: Instrument, points: Sequence[Point], *, start: dt.date, week: int) -> WeekOutcome:
    first = baseline(points)
    later = [p for p in points if first is not None and p.on > first.on]
    current = at_week(later, start=start, week=week)
    if first is None or current is None:
        return WeekOutcome(missing=True)
    return WeekOutcome(
        missing=False,
        response=is_response(first.total, current.total),
        remission=is_remission(instrument, current.total),
    )


@dataclasses.dataclass(frozen=True)
class Rate:
    label: str
    count: int
    evaluable: int
    missing: int

    @property
    def percent(self) -> int | None:
        return round(self.count * 100 / self.evaluable) if self.evaluable else None


def rates(outcomes: Sequence[WeekOutcome], *, week: int) -> list[Rate]:
    """Response and remission rates among the courses with a score that week; the courses
    without one are counted as missing, never as failures."""
    evaluable = [o for o in outcomes if not o.missing]
    missing = len(outcomes) - len(evaluable)
    return [
        Rate(
            _("Response at week %(week)s") % {"week": week},
            sum(o.response for o in evaluable),
            len(evaluable),
            missing,
        ),
        Rate(
            _("Remission at week %(week)s") % {"week": week},
            sum(o.remission for o in evaluable),
            len(evaluable),
            missing,
        ),
    ]


# --- When a clinician rates -------------------------------------------------------------


def rating_due(*, sequence: int, last_of_first_phase: int | None, every: int) -> str:
    """Why a clinician rating is due at the ``sequence``-th session of a course ("" when it is
    not): the baseline at the first session, the end of induction at the last session of the
    first phase, and every ``every``-th session (0: no periodic rating)."""
    if sequence == 1:
        return _("Baseline")
    if last_of_first_phase is not None and sequence == last_of_first_phase:
        return _("End of induction")
    if every and sequence % every == 0:
        return _("Every %(every)s sessions") % {"every": every}
    return ""


# --- Eligibility for a treatment-resistant depression course ---------------------------

MIN_FAILED_TRIALS = 2  # at least two adequate trials that failed (esketamine label)
MIN_TRIAL_WEEKS = 6  # an adequate duration


@dataclasses.dataclass(frozen=True)
class Trial:
    adequate_dose: bool
    weeks: int
    failed: bool  # no response or a partial one (an intolerance is not an adequate trial)
    current: bool  # taken now


def adequate_failed(trial: Trial, *, min_weeks: int = MIN_TRIAL_WEEKS) -> bool:
    return trial.adequate_dose and trial.weeks >= min_weeks and trial.failed


def eligibility_reasons(
    trials: Iterable[Trial], *, min_failed: int = MIN_FAILED_TRIALS, min_weeks: int = MIN_TRIAL_WEEKS
) -> list[str]:
    """Why a treatment-resistant depression esketamine course may not start (empty: it may)."""
    trials = list(trials)
    reasons = []
    failed = sum(adequate_failed(t, min_weeks=min_weeks) for t in trials)
    if failed < min_failed:
        reasons.append(
            ngettext(
                "%(failed)s adequate antidepressant trial that failed recorded; "
                "%(needed)s are needed (adequate dose, at least %(weeks)s weeks)",
                "%(failed)s adequate antidepressant trials that failed recorded; "
                "%(needed)s are needed (adequate dose, at least %(weeks)s weeks)",
                failed,
            )
            % {"failed": failed, "needed": min_failed, "weeks": min_weeks}
        )
    if not any(t.current for t in trials):
        reasons.append(_("no current oral antidepressant recorded (esketamine is given with one)"))
    return reasons
