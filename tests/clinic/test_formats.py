"""One way of writing dates, times and phone numbers (clinic.formats): the named styles follow
CLINIC_CLOCK, phone numbers read nationally, and the pages converted to the styles format no
date by hand."""

import datetime as dt
import re
import zoneinfo
from pathlib import Path

import pytest
from django.conf import settings
from django.template import Context, Template

from clinic import formats

NY = zoneinfo.ZoneInfo("America/New_York")
AT = dt.datetime(2026, 12, 3, 19, 5, 9, tzinfo=dt.UTC)  # 14:05:09 in New York
TEMPLATES = Path(settings.BASE_DIR) / "templates"
# The pages whose dates and times are written only through clinic.formats.
CONVERTED = [
    "monitoring/board.html",
    "monitoring/board_table.html",
    "jinja2/monitoring/_board_rows.html",
    "monitoring/session_day.html",
    "monitoring/late_entry.html",
    "monitoring/addenda.html",
    "monitoring/_day_step_badge.html",
    "monitoring/_day_step_errors.html",
]


def test_the_styles_follow_the_clinics_clock(settings):
    assert formats.when(AT, "time", NY) == "14:05"
    assert formats.when(AT, "day_time", NY) == "Thu 3 Dec 14:05"
    assert formats.when(AT.date(), "date") == "Thu 3 Dec 2026"
    settings.CLINIC_CLOCK = "12"
    assert formats.when(AT, "time", NY) == "2:05 PM"
    assert formats.when(AT, "time_seconds", NY) == "2:05:09 PM"
    assert formats.when(None, "time") == ""


def test_the_filter_writes_in_the_pages_time_zone():
    page = Template(
        '{% load tz clinic_formats %}{% timezone "America/New_York" %}{{ at|when:"time" }}{% endtimezone %}'
    )
    assert page.render(Context({"at": AT})) == "14:05"


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("+12125550199", "(212) 555-0199"),
        ("+442079460018", "+44 20 7946 0018"),
        ("", ""),
        ("not a number", "not a number"),
    ],
)
def test_phone_numbers_read_nationally(stored, shown):
    assert formats.phone(stored) == shown


@pytest.mark.parametrize("name", CONVERTED)
def test_the_converted_pages_format_no_date_by_hand(name):
    text = (TEMPLATES / name).read_text()
    assert not re.findall(r"\|(?:date|time):|strftime\(|\.isoformat\(\)", text), name
