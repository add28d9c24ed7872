"""One way of writing dates and times: no template and no app module formats a date or a time by
hand; they go through ``clinic.formats`` (``{{ value|when:"day_time" }}``, ``when(value, "time",
tz)``). Machine formats are the helper's own named styles ("iso", "iso_time", "iso_datetime",
"instant", "stamp") or ``isoformat()`` in Python, so they read as such.

The allow-list below is short and every entry says why; PENDING lists the files whose owners are
converting them now (delete an entry once its file passes)."""

import re
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
APPS = ("clinic", "scheduling", "monitoring")

# A hand-written date or time in a template: Django's date/time filters (with or without a
# format: without one they write the DATE_FORMAT setting's "Nov. 30, 2026"), strftime and
# isoformat() in Jinja2 partials, the {% now %} tag.
TEMPLATE_PATTERN = re.compile(r"\|\s*(?:date|time)\b|strftime\(|\.isoformat\(\)|\{%-?\s*now\b")
# ... in Python: strftime, Django's dateformat/formats helpers, an f-string's date format spec
# ({at:%H:%M}), a clock assembled from numbers ({h:02d}:{m:02d}), a strftime format string.
PYTHON_PATTERN = re.compile(
    r"strftime\(|dateformat\.|\bdate_format\(|\btime_format\("
    r"|\{[^{}\n]*:%[A-Za-z][^{}\n]*\}"
    r"|:02d\}:\{"
    r"|[\"']%[YHIbBp][^\"'\n]*[\"']"
)

ALLOWED = {
    ("clinic/formats.py", None): "the one helper: it holds the named styles",
}
# Files (or one line of a file) that other work is converting to clinic.formats at this moment.
PENDING: dict = {}


def _allowed(path: str, line: str) -> bool:
    return any(p == path and (snippet is None or snippet in line) for p, snippet in {**ALLOWED, **PENDING})


def _hand_dates(files, pattern) -> list[str]:
    found = []
    for file in files:
        path = file.relative_to(ROOT).as_posix()
        for number, line in enumerate(file.read_text().splitlines(), 1):
            if pattern.search(line) and not _allowed(path, line):
                found.append(f"{path}:{number}: {line.strip()[:120]}")
    return found


def test_no_template_writes_a_date_by_hand():
    files = sorted(p for p in (ROOT / "templates").rglob("*") if p.suffix in (".html", ".txt"))
    assert len(files) > 50
    assert _hand_dates(files, TEMPLATE_PATTERN) == []


def test_no_app_module_writes_a_date_by_hand():
    files = sorted(p for app in APPS for p in (ROOT / app).rglob("*.py") if "migrations" not in p.parts)
    assert len(files) > 50
    assert _hand_dates(files, PYTHON_PATTERN) == []


@pytest.mark.parametrize(
    "line",
    [
        '{{ at|date:"Y-m-d" }}',
        "{{ at|date }}",
        '{{ at|time:"H:i" }}',
        '{{ at.strftime("%H:%M") }}',
        "{% now 'Y' %}",
    ],
)
def test_the_template_check_sees_a_hand_written_date(line):
    assert TEMPLATE_PATTERN.search(line)


@pytest.mark.parametrize(
    "line",
    [
        'f"due {at:%H:%M}"',
        'f"{day:%a %d %b %Y}"',
        "at.strftime('%Y')",
        'dateformat.format(at, "D j M")',
        'f"{m // 60:02d}:{m % 60:02d}"',
        'format="%H:%M"',
    ],
)
def test_the_python_check_sees_a_hand_written_date(line):
    assert PYTHON_PATTERN.search(line)


@pytest.mark.parametrize(
    "line",
    ['logger.info("%s rows, %d left", a, b)', 'f"{value:.1f}"', "at.isoformat()", 'when(at, "time", tz)'],
)
def test_the_python_check_lets_other_formats_be(line):
    assert not PYTHON_PATTERN.search(line)


def test_every_pending_file_exists():
    assert [path for path, _ in PENDING if not (ROOT / path).exists()] == []
