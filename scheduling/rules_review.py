"""The prescriber's course review, decided in one place: which phase a running course is in,
and which phases each decision plans. Pure functions (no database, no clock); the review
page, its worklist and ``services.course_review_decide`` call them.

A review happens in one of two positions:

- **paused**: the plan stopped at the end of a phase that asks for a review
  (``Course.review_phase_order``); the phase under review is that phase.
- **running**: the course was flagged for a review (a worsening outcome score...) while its
  plan goes on; the phase under review is the one the course is in now
  (``current_phase_index``)."""

import datetime as dt
from collections.abc import Sequence

from django.utils.translation import gettext_lazy as _

CONTINUE, NEXT, STEP_BACK, EXTEND, STOP = "continue", "next", "step_back", "extend", "stop"
DECISIONS = (CONTINUE, EXTEND, STEP_BACK, NEXT, STOP)

# How each decision reads in each position (the choices the review page offers, in order),
# translated where the page shows them.
LABELS = {
    "paused": {
        CONTINUE: _("Continue at the same frequency (the phase again)"),
        STEP_BACK: _("Step back to the previous frequency"),
        NEXT: _("Go on to the next phase"),
        STOP: _("Stop the course"),
    },
    "running": {
        CONTINUE: _("Continue unchanged (keep the booked sessions)"),
        EXTEND: _("Extend the current phase (plan it again in full from the next session)"),
        STEP_BACK: _("Step back to the previous frequency"),
        NEXT: _("Go on to the next phase now"),
        STOP: _("Stop the course"),
    },
}


class ReviewNotAllowed(Exception):
    """A decision the review's position does not allow; ``code`` names why."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def current_phase_index(
    phase_names: Sequence[str], sessions: Sequence[tuple[dt.datetime, str]], now: dt.datetime
) -> int | None:
    """The index (in ``phase_names``, the protocol's phases in order) of the phase a running
    course is in: the phase of its latest session that has started (at or before ``now``);
    before its first session, the phase of the next one; without either, the first phase.
    ``sessions`` are the course's (start, phase name) that count (neither cancelled nor
    missed), in any order; a session whose phase the protocol no longer has is passed over.
    None when the protocol has no phase."""
    if not phase_names:
        return None
    index = {name: i for i, name in enumerate(phase_names)}
    known = sorted((start, name) for start, name in sessions if name in index)
    started = [name for start, name in known if start <= now]
    if started:
        return index[started[-1]]
    upcoming = [name for start, name in known if start > now]
    return index[upcoming[0]] if upcoming else 0


def plan_from(decision: str, *, index: int | None, count: int, paused: bool) -> int | None:
    """The index of the first phase a decision plans (the planner goes on from there to the
    next phase that asks for a review), or None when it plans nothing: stop, and continue on a
    running course (the booked sessions stay). Raises ``ReviewNotAllowed`` for a decision the
    protocol or the position does not allow.

    - continue: paused, the reviewed phase again; running, nothing changes.
    - extend (running only): the current phase again in full (its weeks or sessions) from the
      next session, then the phases after it. At a pause "continue" is already that.
    - step back: the phase before the one under review, then on from there.
    - next phase: the phase after the one under review."""
    if decision == STOP:
        return None
    if decision == CONTINUE:
        if not paused:
            return None
        if index is None:
            raise ReviewNotAllowed("no_phase")
        return index
    if index is None:
        raise ReviewNotAllowed("no_phase")
    if decision == EXTEND:
        if paused:
            raise ReviewNotAllowed("extend_at_pause")
        return index
    if decision == STEP_BACK:
        if index == 0:
            raise ReviewNotAllowed("no_previous_phase")
        return index - 1
    if decision == NEXT:
        if index + 1 >= count:
            raise ReviewNotAllowed("no_next_phase")
        return index + 1
    raise ReviewNotAllowed("unknown_decision")


def allowed_decisions(*, index: int | None, count: int, paused: bool) -> list[tuple[str, str]]:
    """The (value, label) choices of a review in this position, in the page's order."""
    labels = LABELS["paused" if paused else "running"]
    allowed = []
    for decision, label in labels.items():
        try:
            plan_from(decision, index=index, count=count, paused=paused)
        except ReviewNotAllowed:
            continue
        allowed.append((decision, label))
    return allowed
