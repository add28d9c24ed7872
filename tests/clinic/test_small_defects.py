"""Small things people noticed: the browser's /favicon.ico finds the clinic's icon, and a
report chart's longest label fits inside the picture."""

import pytest
from django.templatetags.static import static

from monitoring import reports

pytestmark = pytest.mark.django_db


def test_favicon_ico_leads_to_the_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"] == static("favicon.svg")


def test_the_longest_bar_label_fits_left_of_the_bars():
    chart = reports.bar_chart([("Respiratory depression · moderate to severe", 3), ("Other", 1)], "events")
    label = chart.bars[0].short_label
    assert len(label) == reports.LABEL_CHARS
    # Right-aligned at label_x: the text starts at label_x minus its width, inside the picture.
    assert chart.label_x - len(label) * reports.LABEL_CHAR_PX >= 0
    # The value after the longest bar ends inside the picture too.
    assert max(bar.text_x for bar in chart.bars) + 6 * reports.LABEL_CHAR_PX <= chart.width
