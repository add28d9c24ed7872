"""What a patient and staff read on the outcome pages: the crisis line is the clinic's own
(CRISIS_LINE_TEXT), and the outcome and review pages write dates only through clinic.formats."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core.cache import cache
from django.urls import reverse

from scheduling.links import confirm_token

from .conftest import DAY_START
from .test_outcomes import BEFORE, answers_post, questions_url

ROOT = Path(django_settings.BASE_DIR)
UK_LINE = "Call Samaritans free on 116 123, or 999 in an emergency."


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()


@pytest.mark.django_db
@time_machine.travel(BEFORE, tick=False)
def test_the_crisis_line_is_the_clinics_setting(client, session, settings):
    page = client.get(questions_url(session)).content.decode()
    assert "988" in page  # the default: the United States' line
    settings.CRISIS_LINE_TEXT = UK_LINE
    page = client.get(questions_url(session)).content.decode()
    assert UK_LINE in page and "988" not in page and "911" not in page
    client.post(questions_url(session), answers_post(phq9=(1,) * 8 + (2,)))
    done = client.get(reverse("monitoring:questionnaire-done", args=[confirm_token(session.pk)])).content.decode()
    assert 'id="safety-message"' in done
    assert UK_LINE in done and "988" not in done


def test_an_empty_crisis_line_stops_start_up():
    env = {**os.environ, "CRISIS_LINE_TEXT": "   "}
    result = subprocess.run(
        [sys.executable, "-c", "import clinic.settings"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "CRISIS_LINE_TEXT must be 1 to 300 characters" in result.stderr


@pytest.mark.parametrize(
    "name",
    [
        *(f"monitoring/outcomes/{p.name}" for p in sorted((ROOT / "templates/monitoring/outcomes").glob("*.html"))),
        "scheduling/review_list.html",
        "scheduling/course_review.html",
    ],
)
def test_the_outcome_and_review_pages_format_no_date_by_hand(name):
    text = (ROOT / "templates" / name).read_text()
    assert not re.findall(r"\|(?:date|time):|strftime\(|\.isoformat\(\)", text), name


@pytest.mark.django_db
def test_the_session_days_scores_follow_the_clinics_clock(client_for, session, nurse, settings):
    from monitoring import services_outcomes

    with time_machine.travel(DAY_START.replace(hour=14, minute=5), tick=False):
        services_outcomes.rating_record(session=session, user=nurse, instrument="madrs", answers=[2] * 10)
    settings.CLINIC_CLOCK = "12"
    with time_machine.travel(DAY_START, tick=False):
        page = client_for(nurse).get(reverse("monitoring:session-day", args=[session.pk])).content.decode()
    assert "Tue 17 Nov 2:05 PM" in page
