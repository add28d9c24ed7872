"""A small server-rendered SVG chart of BP, heart rate and SpO2 over the observation, with
the alert threshold lines. Pure geometry: the template draws what this returns."""

import dataclasses
import datetime as dt

from django.utils.translation import gettext as _

from . import rules

WIDTH = 640
LEFT, RIGHT = 44, 12
TOP_PANEL = (10, 170)  # y range (top, bottom) for BP and heart rate
LOW_PANEL = (200, 270)  # y range for SpO2
HEIGHT = 300
BP_RANGE = (30, 220)
SPO2_RANGE = (80, 100)


@dataclasses.dataclass
class Series:
    name: str
    css: str
    points: str
    dots: list


@dataclasses.dataclass
class Line:
    label: str
    y: float
    css: str


def _y(value: float, lo_hi: tuple[int, int], panel: tuple[int, int]) -> float:
    lo, hi = lo_hi
    value = min(max(value, lo), hi)
    top, bottom = panel
    return round(bottom - (value - lo) / (hi - lo) * (bottom - top), 1)


def observation_chart(readings, t: rules.Thresholds, observation) -> dict | None:
    """Chart data for the effective readings, or None when there is nothing to draw."""
    if not readings:
        return None
    start = observation.started_at if observation else readings[0].taken_at
    first = min(readings[0].taken_at, start)
    end = max(readings[-1].taken_at, start + dt.timedelta(minutes=t.observation_minimum_minutes))
    span = max((end - first).total_seconds(), 60)

    def x(when: dt.datetime) -> float:
        return round(LEFT + (when - first).total_seconds() / span * (WIDTH - LEFT - RIGHT), 1)

    def series(name, css, attr, lo_hi, panel):
        coords = [(x(r.taken_at), _y(getattr(r, attr), lo_hi, panel), getattr(r, attr)) for r in readings]
        return Series(name, css, " ".join(f"{cx},{cy}" for cx, cy, _ in coords), coords)

    systolic, diastolic, hr, spo2 = _("Systolic"), _("Diastolic"), _("HR"), _("SpO2")
    lines = [
        Line(f"{systolic} {t.systolic_high}", _y(t.systolic_high, BP_RANGE, TOP_PANEL), "chart-limit-bp"),
        Line(f"{diastolic} {t.diastolic_high}", _y(t.diastolic_high, BP_RANGE, TOP_PANEL), "chart-limit-bp"),
        Line(f"{hr} {t.heart_rate_high}", _y(t.heart_rate_high, BP_RANGE, TOP_PANEL), "chart-limit-hr"),
        Line(f"{hr} {t.heart_rate_low}", _y(t.heart_rate_low, BP_RANGE, TOP_PANEL), "chart-limit-hr"),
        Line(f"{spo2} {t.spo2_low}", _y(t.spo2_low, SPO2_RANGE, LOW_PANEL), "chart-limit-spo2"),
    ]
    minutes_ticks = []
    total_minutes = int(span // 60)
    step = 20 if total_minutes <= 180 else 60
    for m in range(0, total_minutes + 1, step):
        when = start + dt.timedelta(minutes=m)
        if when <= end:
            minutes_ticks.append({"x": x(when), "label": f"{m}'"})
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "top_panel": TOP_PANEL,
        "low_panel": LOW_PANEL,
        "series": [
            series(systolic, "chart-sys", "systolic", BP_RANGE, TOP_PANEL),
            series(diastolic, "chart-dia", "diastolic", BP_RANGE, TOP_PANEL),
            series(_("Heart rate"), "chart-hr", "heart_rate", BP_RANGE, TOP_PANEL),
            series(spo2, "chart-spo2", "spo2", SPO2_RANGE, LOW_PANEL),
        ],
        "lines": lines,
        "ticks": minutes_ticks,
        "start_x": x(start),
        "min_end_x": x(start + dt.timedelta(minutes=t.observation_minimum_minutes)),
        "axis": [{"y": _y(v, BP_RANGE, TOP_PANEL), "label": v} for v in (40, 80, 120, 160, 200)]
        + [{"y": _y(v, SPO2_RANGE, LOW_PANEL), "label": f"{v}%"} for v in (80, 90, 100)],
    }
