"""Journey 3: an administrator reads who saw and changed a patient's record, exports
the filtered audit trail (a background job with a progress bar), and opens the REMS
worklist and the compliance report."""

import csv
import datetime as dt
import io

import pytest
from django.test import Client
from django.utils import timezone

from clinic.exports import export_job_run
from clinic.models import Chair, ExportJob
from monitoring.models import CheckIn
from scheduling.models import Course, Protocol, Session, TransportArrangement
from tests import factories
from tests.e2e.conftest import DESKTOP, axe_violations, login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def nurse_activity(site, nurse, administrator):
    """The nurse opens a patient's record and checks them in, through the pages."""
    patient = factories.make_patient(site=site, first_name="Morgan", last_name="Fields", mrn="MRN135790")
    # Ten minutes from now, or ten minutes ago when that would fall on the site's next day
    # (check-in is only on the session's own local day).
    now = timezone.now()
    start = now + dt.timedelta(minutes=10)
    if start.astimezone(site.tzinfo).date() != now.astimezone(site.tzinfo).date():
        start = now - dt.timedelta(minutes=10)
    course = Course.objects.create(
        patient=patient,
        protocol=Protocol.objects.get(slug="esketamine-trd"),
        site=site,
        start_date=start.date(),
        weekdays=[start.weekday()],
        start_time=dt.time(9),
        created_by=administrator,
    )
    session = Session.objects.create(
        course=course,
        patient=patient,
        chair=Chair.objects.get(site=site, name="Chair 4"),
        start=start,
        planned_end=start + dt.timedelta(minutes=150),
        planned_dose_mg=56,
    )
    TransportArrangement.objects.create(session=session, name="Lee Fields", status="confirmed_staff")
    client = Client()
    client.force_login(nurse)
    assert client.get(f"/patients/{patient.pk}/").status_code == 200
    response = client.post(
        f"/sessions/{session.pk}/day/check-in/",
        dict.fromkeys(CheckIn.CHECKLIST, "on"),
    )
    assert response.status_code == 302
    return patient


def test_administrator_reads_audit_rems_and_compliance(new_page, shots, administrator, nurse_activity):
    page = new_page(DESKTOP)
    login(page, "administrator")

    page.get_by_role("link", name="Audit", exact=True).click()
    page.get_by_label("Patient (MRN or name)").fill("MRN135790")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table tbody tr")
    rows.first.wait_for()
    nurse_rows = rows.filter(has_text="nurse")
    assert nurse_rows.filter(has_text="View").count() >= 1
    assert nurse_rows.filter(has_text="Create").count() + nurse_rows.filter(has_text="Update").count() >= 1
    shots(page, "audit-filtered-by-patient")
    violations = axe_violations(page)
    assert violations == [], violations

    # The export is a background job: asked for, written by the worker (run here), downloaded.
    page.get_by_role("link", name="Download CSV").click()
    page.get_by_role("button", name="Prepare the file").click()
    page.get_by_text("This page updates itself").wait_for()
    export_job_run(job_id=ExportJob.objects.latest("id").pk)
    page.get_by_role("link", name="Download audit-").wait_for()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download audit-").click()
    content = open(download_info.value.path(), encoding="utf-8").read()  # noqa: PTH123, SIM115
    csv_rows = list(csv.DictReader(io.StringIO(content)))
    assert csv_rows and all("MRN135790" in ",".join(r.values()) for r in csv_rows)
    assert any(r["user"] == "nurse" for r in csv_rows)

    page.get_by_role("link", name="REMS", exact=True).click()
    page.get_by_role("heading", name="REMS monitoring records to submit").wait_for()
    shots(page, "rems-worklist")

    page.get_by_role("link", name="Reports", exact=True).click()
    page.get_by_role("heading", name="Compliance reports").wait_for()
    assert page.locator("svg.report-chart").count() >= 3
    assert page.get_by_role("link", name="Download CSV").count() >= 3
    shots(page, "compliance-report")
    violations = axe_violations(page)
    assert violations == [], violations
