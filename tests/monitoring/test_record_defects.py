"""Small defects of the records people read: the REMS record's medicine names, the REMS
worklist's headers over its columns, the browser tab's icon."""

import datetime as dt
import re
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse

from tests.monitoring.conftest import DAY_START

pytestmark = pytest.mark.django_db


def test_the_rems_record_writes_medicine_names_as_the_patient_record_does(
    client_for, administrator, session, run_to_discharge
):
    run_to_discharge(session)
    with time_machine.travel(DAY_START + dt.timedelta(days=1), tick=False):
        page = client_for(administrator).get(reverse("monitoring:rems-record", args=[session.pk])).content.decode()
    assert "MAOIs" in page and "Maois" not in page


def test_the_rems_worklist_has_a_header_over_each_column(client_for, administrator, session, run_to_discharge):
    run_to_discharge(session)
    with time_machine.travel(DAY_START + dt.timedelta(days=1), tick=False):
        page = client_for(administrator).get(reverse("monitoring:rems-worklist")).content.decode()
    head = re.search(r"<thead>(.*?)</thead>", page, re.S).group(1)
    row = re.search(r"<tbody>\s*<tr>(.*?)</tr>", page, re.S).group(1)
    assert head.count("<th") == row.count("<td") == 6


def test_every_page_names_its_icon(client_for, nurse):
    page = client_for(nurse).get(reverse("clinic:alerts")).content.decode()
    assert '<link rel="icon" href="/static/favicon.svg"' in page
    assert (Path(settings.BASE_DIR) / "static" / "favicon.svg").read_text().startswith("<svg")
