"""The compliance report's tables as export jobs (clinic.exports): one kind per table,
``report:<slug>``, with the report's site and period as parameters."""

import datetime as dt

from django.utils.translation import gettext, gettext_noop

from clinic import registry
from clinic.formats import when
from clinic.models import Site
from clinic.selectors import all_sites

from . import reports
from .views_reports import ReportFilterForm

_FORMULA_STARTS = ("=", "+", "-", "@")
# What the export pages call each table, in English (translated when an export is asked for).
TABLE_NAMES = {
    "sessions-by-week": gettext_noop("sessions by week"),
    "no-show-rate": gettext_noop("no show rate"),
    "observation-length": gettext_noop("observation length"),
    "checkpoint-completeness": gettext_noop("checkpoint completeness"),
    "adverse-events": gettext_noop("adverse events"),
    "overrides": gettext_noop("overrides"),
    "rems": gettext_noop("rems"),
}


def _parse(data) -> dict | None:
    form = ReportFilterForm({key: data.get(key, "") for key in ("site", "date_from", "date_to")}, sites=all_sites())
    if not form.is_valid():
        return None
    c = form.cleaned_data
    return {"site": c["site"].pk, "date_from": c["date_from"].isoformat(), "date_to": c["date_to"].isoformat()}


def _day(iso: str) -> str:
    return when(dt.date.fromisoformat(iso), "date")


def _label(slug: str, params: dict) -> str:
    """ "Compliance report, no show rate: Sun 1 Nov 2026 to Mon 30 Nov 2026"."""
    return gettext("Compliance report, %(table)s: %(first)s to %(last)s") % {
        "table": gettext(TABLE_NAMES.get(slug, slug.replace("-", " "))),
        "first": _day(params["date_from"]),
        "last": _day(params["date_to"]),
    }


def _table(slug: str, params: dict) -> reports.Table:
    return reports.report_table(
        site=Site.objects.get(pk=params["site"]),
        date_from=dt.date.fromisoformat(params["date_from"]),
        date_to=dt.date.fromisoformat(params["date_to"]),
        slug=slug,
    )


def _rows(slug: str, params: dict):
    for row in _table(slug, params).rows:
        yield [_csv_value(v) for v in row]


def _csv_value(value):
    """Dates and times as a spreadsheet reads them (ISO, machine formats); text that could be
    read as a formula behind a quote."""
    if isinstance(value, dt.datetime):
        return when(value, "iso_datetime")
    if isinstance(value, dt.date):
        return when(value, "iso")
    return f"'{value}" if isinstance(value, str) and value.startswith(_FORMULA_STARTS) else value


def report_export_kinds() -> list[registry.ExportKind]:
    return [
        registry.ExportKind(
            kind=f"report:{slug}",
            permission="monitoring.view_reports",
            parse=_parse,
            label=lambda params, slug=slug: _label(slug, params),
            header=lambda params, slug=slug: list(_table(slug, params).columns),
            rows=lambda params, slug=slug: _rows(slug, params),
            count=lambda params: None,
            back_url="monitoring:reports",
        )
        for slug in reports.SECTIONS
    ]
