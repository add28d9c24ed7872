"""No patient data in the logs or in error reports: query strings are cut."""

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from clinic.log_redaction import RedactQueryStrings
from clinic.sentry import scrub

ROOT = Path(__file__).resolve().parents[2]


def test_an_access_log_line_loses_its_query_string():
    record = logging.LogRecord(
        "django.server", logging.INFO, "", 0, '"%s" %s %s', ("GET /patients/?q=Smith&page=2 HTTP/1.1", 200, 512), None
    )
    RedactQueryStrings().filter(record)
    assert record.getMessage() == '"GET /patients/?[redacted] HTTP/1.1" 200 512'


def test_a_message_with_the_query_in_it_is_redacted_too():
    record = logging.LogRecord("x", logging.WARNING, "", 0, "Not Found: /audit/?patient=MRN555001", None, None)
    RedactQueryStrings().filter(record)
    assert "MRN555001" not in record.getMessage()


def test_the_running_server_logs_no_patient_search(tmp_path):
    """The logging configuration as the app loads it: django.server goes through the filter."""
    script = (
        "import django, logging; django.setup()\n"
        "logging.getLogger('django.server').info('\"%s\" %s %s', 'GET /patients/?q=Garcia HTTP/1.1', '200', '9')\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "clinic.settings"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert "GET /patients/?[redacted] HTTP/1.1" in result.stderr
    assert "Garcia" not in result.stderr


def test_an_error_report_keeps_no_patient_data():
    event = {
        "request": {
            "url": "https://clinic.example/patients/?q=Smith",
            "query_string": "q=Smith",
            "data": {"last_name": "Smith"},
            "cookies": {"sessionid": "x"},
            "headers": {"User-Agent": "tablet", "Cookie": "sessionid=x", "Referer": "/patients/?q=Smith"},
        },
        "user": {"id": 7, "username": "nurse", "email": "n@clinic.example"},
        "breadcrumbs": {"values": [{"message": "GET /patients/?q=Smith", "data": {"q": "Smith"}}]},
        "exception": {"values": [{"stacktrace": {"frames": [{"function": "f", "vars": {"name": "Smith"}}]}}]},
    }
    scrubbed = scrub(event)
    assert "Smith" not in repr(scrubbed)
    assert scrubbed["user"] == {"id": 7}
    assert scrubbed["request"]["headers"] == {"User-Agent": "tablet"}


def test_sentry_without_its_package_stops_start_up_with_a_clear_message():
    pytest.importorskip("django")
    try:
        import sentry_sdk  # noqa: F401

        pytest.skip("sentry-sdk is installed here")
    except ImportError:
        pass
    env = {**os.environ, "SENTRY_DSN": "https://key@sentry.example/1"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "SENTRY_DSN is set but the sentry-sdk package is not installed" in result.stderr
