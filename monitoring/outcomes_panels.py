"""What the pages show of outcome scores: the session-day panel (safety first, the scores, the
clinician's rating form), the course page's trend chart (server-side SVG geometry: the template
draws what this returns) and the course-start check. Shared by the views and the registry."""

import dataclasses

from django.utils.translation import gettext as _

from clinic import registry
from clinic.audit import audit_record
from clinic.models import AuditAction

from . import instruments, rules_outcomes, selectors_outcomes
from .forms_outcomes import InstrumentForm, SafetyAckForm

WIDTH, HEIGHT = 560, 220
LEFT, RIGHT, TOP, BOTTOM = 40, 16, 12, 190
MIN_WEEKS = 8


@dataclasses.dataclass
class ScoreRow:
    score: object
    instrument: instruments.Instrument
    band: instruments.Band
    review: object | None

    @property
    def safety_answer(self) -> int | None:
        item = self.instrument.safety_item
        return self.score.answers[item - 1] if item else None

    @property
    def review_pending(self) -> bool:
        return self.score.safety_positive and self.review is None


def _audit_shown(request, *, obj, page: str, shown: list[str]) -> None:
    """Scores are PHI: a page that shows any writes its own audit row naming them."""
    if shown and request is not None:
        audit_record(
            action=AuditAction.VIEW,
            request=request,
            obj=obj,
            object_type="outcome_scores",
            summary={"page": page, "instruments": shown},
        )


def session_panel(session, *, forms: dict, request=None) -> dict:
    """The session day's outcome panel: a fixed number of queries (scores, reviews, plan, the
    rating schedule). Audited when it shows scores."""
    rows = []
    for score in selectors_outcomes.session_scores(session):
        instrument = score.definition
        rows.append(
            ScoreRow(
                score, instrument, rules_outcomes.band(instrument, score.total), selectors_outcomes.review_of(score)
            )
        )
    plan = selectors_outcomes.plan_for(session.course.protocol if session.course_id else None)
    rated = instruments.get(plan.clinician_instrument)
    existing = next((r.score for r in rows if r.score.instrument == rated.code), None)
    _audit_shown(request, obj=session, page="session-day", shown=[r.instrument.name for r in rows])
    return {
        "rows": rows,
        "safety_rows": [r for r in rows if r.score.safety_positive],
        "rating_instrument": rated,
        "rating_due": selectors_outcomes.rating_due(session),
        "rating_form": forms.get("rating_form") or InstrumentForm(instrument=rated, initial_score=existing),
        "rating_existing": existing,
        "ack_form": forms.get("ack_form") or SafetyAckForm(),
    }


# --- Trend chart --------------------------------------------------------------------------


def _scale(value: float, top_value: float) -> float:
    return round(BOTTOM - min(max(value, 0), top_value) / top_value * (BOTTOM - TOP), 1)


def trend_chart(series: selectors_outcomes.Series) -> dict:
    """One instrument's scores by week of the course, with the baseline, response (50 % of the
    baseline) and remission lines and the severity bands' edges."""
    instrument = series.instrument
    weeks = [rules_outcomes.course_week(series.start, p.on) for p in series.points]
    span = max([MIN_WEEKS, *weeks])

    def x(week: float) -> float:
        return round(LEFT + week / span * (WIDTH - LEFT - RIGHT), 1)

    top = instrument.max_total
    dots = [
        {"x": x(w), "y": _scale(p.total, top), "total": p.total, "week": w, "on": p.on}
        for w, p in zip(weeks, series.points, strict=True)
    ]
    lines = [
        {
            "label": _("Remission ≤ %(total)s") % {"total": instrument.remission_max},
            "y": _scale(instrument.remission_max, top),
            "css": "chart-remission",
        }
    ]
    base = series.baseline
    if base is not None:
        lines.append(
            {
                "label": _("Baseline %(total)s") % {"total": base.total},
                "y": _scale(base.total, top),
                "css": "chart-baseline",
            }
        )
        half = base.total * (1 - instruments.RESPONSE_DROP)
        lines.append(
            {
                "label": _("Response ≤ %(total)s") % {"total": f"{half:g}"},
                "y": _scale(half, top),
                "css": "chart-response",
            }
        )
    return {
        "instrument": instrument,
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "top": TOP,
        "bottom": BOTTOM,
        "points": " ".join(f"{d['x']},{d['y']}" for d in dots),
        "dots": dots,
        "lines": lines,
        # "w4": week 4 of the course.
        "ticks": [
            {"x": x(w), "label": _("w%(week)s") % {"week": w}} for w in range(0, span + 1, 2 if span <= 16 else 4)
        ],
        "axis": [{"y": _scale(v, top), "label": v} for v in sorted({0, *(b.low for b in instrument.bands[1:]), top})],
        "words": series.words,
        "status": series.status,
    }


def course_panel(*, course, request) -> registry.Panel | None:
    """The course page's outcome scores: a chart per instrument, the status in words and the
    worsening that put the course on the review worklist (two queries; audited when it shows
    scores)."""
    series = selectors_outcomes.course_series(course)
    _audit_shown(request, obj=course, page="course", shown=[s.instrument.name for s in series])
    return registry.Panel(
        "monitoring/outcomes/_course_trend.html",
        {
            "charts": [trend_chart(s) for s in series],
            "course": course,
            "review_flags": selectors_outcomes.open_review_flags(course) if series else [],
        },
    )


def course_start_check(*, patient, protocol) -> list[str]:
    """The eligibility reasons for a new course (after any prescriber override)."""
    return selectors_outcomes.eligibility_reasons(patient=patient, protocol=protocol)


def report_chart(report) -> list[dict]:
    """Horizontal bars of the report's rates (percent of the courses with a score that week)."""
    bars = []
    for row in report:
        for rate in row.rates:
            percent = rate.percent or 0
            bars.append(
                {
                    "label": f"{row.protocol.name} · {row.instrument.name} · {rate.label}",
                    "percent": rate.percent,
                    "width": round(percent * 3, 1),  # 300 px for 100 %
                    "missing": rate.missing,
                    "evaluable": rate.evaluable,
                }
            )
    return bars


def patient_panel(*, patient, user) -> registry.PatientPanel | None:
    """The patient page's antidepressant summary and link, for the staff who record it (one query)."""
    if not user.has_perm("monitoring.record_outcomes"):
        return None
    trials = selectors_outcomes.patient_trials(patient)
    rule_trials = selectors_outcomes.rule_trials(trials)
    return registry.PatientPanel(
        template="monitoring/outcomes/_patient_panel.html",
        actions_template="monitoring/outcomes/_patient_actions.html",
        context={
            "patient": patient,
            "current": [t for t, r in zip(trials, rule_trials, strict=True) if r.current],
            "failed": sum(rules_outcomes.adequate_failed(r) for r in rule_trials),
        },
    )
