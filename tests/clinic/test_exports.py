"""Exports as background jobs: asked for (audited), written by the worker with its progress,
downloaded (audited), expired; the audit trail's CSV and the compliance tables."""

import csv
import datetime as dt
import io
import tracemalloc

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from clinic.audit import audit_record
from clinic.exports import export_job_run, export_path, exports_sweep
from clinic.models import AuditEvent, ExportJob
from tests import factories
from tests.clinic.test_audit_report import bulk_events
from tests.export_helpers import ask_for_export, download_export

pytestmark = pytest.mark.django_db


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_the_audit_export_is_a_job_audited_when_asked_for_and_downloaded(client_for, administrator, nurse, patient):
    audit_record(action="view", user=nurse, obj=patient, summary={"note": "=HYPERLINK(1)"})
    bulk_events(3, username="scheduler")
    client = client_for(administrator)

    link = client.get(reverse("clinic:audit-export"), {"username": "nurse"})
    confirm = client.get(link["Location"])
    assert "Audit trail: username nurse" in confirm.content.decode()
    assert not ExportJob.objects.exists()  # the confirmation page writes nothing

    job = ask_for_export(client, reverse("clinic:audit-export"), {"username": "nurse"})
    assert (job.status, job.requested_by, job.params) == ("queued", administrator, {"username": "nurse"})
    asked = AuditEvent.objects.get(action="export", summary__step="requested")
    assert (asked.username, asked.summary["username"], asked.object_id) == ("administrator", "nurse", str(job.pk))

    page = client.get(reverse("clinic:export-detail", args=[job.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in page and "Queued" in page

    assert export_job_run(job_id=job.pk) == "done"
    assert export_job_run(job_id=job.pk) == "skipped"  # a second delivery writes nothing
    job.refresh_from_db()
    assert (job.status, job.rows_done, job.rows_total) == ("done", 1, 1)
    progress = client.get(reverse("clinic:export-progress", args=[job.pk])).content.decode()
    assert 'value="100"' in progress and "hx-trigger" not in progress
    assert f"Download {job.filename}" in progress

    response = client.get(reverse("clinic:export-download", args=[job.pk]))
    assert "attachment" in response["Content-Disposition"]
    rows = rows_of(b"".join(response.streaming_content).decode())
    assert rows[0][:6] == ["id", "time", "user", "role", "actor", "action"]
    assert len(rows) == 2
    assert rows[1][2] == "nurse" and rows[1][8] == patient.mrn and rows[1][9] == patient.full_name
    assert rows[1][12] == '{"note": "=HYPERLINK(1)"}'
    downloaded = AuditEvent.objects.get(action="export", summary__step="downloaded")
    assert downloaded.username == "administrator" and downloaded.object_id == str(job.pk)


def test_a_cell_starting_like_a_formula_is_text(client_for, administrator):
    audit_record(action="view", username="=cmd|' /C calc'!A0", object_type="+patient")
    text = download_export(client_for(administrator), reverse("clinic:audit-export"), {"object_type": "+patient"})
    [_, row] = rows_of(text)
    assert row[2] == "'=cmd|' /C calc'!A0" and row[6] == "'+patient"


def test_the_progress_bar_shows_how_far_the_worker_has_got(client_for, administrator):
    client = client_for(administrator)
    job = ExportJob.objects.create(
        kind="audit", label="Audit trail", requested_by=administrator, status="running", rows_total=400, rows_done=100
    )
    page = client.get(reverse("clinic:export-progress", args=[job.pk])).content.decode()
    assert '<progress class="w-100" value="25" max="100">' in page
    assert "100 of 400 rows (25%)" in page and 'hx-trigger="every 1s"' in page


def test_exports_are_for_administrators_and_each_job_for_whoever_asked(client_for, administrator, nurse):
    assert client_for(nurse).get(reverse("clinic:audit-export")).status_code == 403
    assert client_for(nurse).get(reverse("clinic:export-new"), {"kind": "audit"}).status_code == 403
    assert client_for(nurse).post(reverse("clinic:export-new") + "?kind=audit").status_code == 403
    other = factories.make_user("admin2", "Administrator")
    job = ExportJob.objects.create(kind="audit", label="Audit trail", requested_by=other)
    client = client_for(administrator)
    assert client.get(reverse("clinic:export-detail", args=[job.pk])).status_code == 404
    assert client.get(reverse("clinic:export-download", args=[job.pk])).status_code == 404
    assert client.get(reverse("clinic:export-new"), {"kind": "nope"}).status_code == 404


def test_invalid_filters_ask_for_nothing(client_for, administrator):
    client = client_for(administrator)
    response = client.post(reverse("clinic:export-new") + "?kind=audit&date_from=2026-03-02&date_to=2026-03-01")
    assert response.status_code == 302
    assert response["Location"] == reverse("clinic:audit") + "?date_from=2026-03-02&date_to=2026-03-01"
    assert not ExportJob.objects.exists()
    assert not AuditEvent.objects.filter(action="export").exists()


def test_files_expire_after_the_setting_and_stalled_jobs_fail(client_for, administrator, settings):
    settings.EXPORT_KEEP_HOURS = 24
    client = client_for(administrator)
    job = ask_for_export(client, reverse("clinic:audit-export"))
    export_job_run(job_id=job.pk)
    assert export_path(job).exists()
    stalled = ExportJob.objects.create(
        kind="audit", label="x", requested_by=administrator, status="running", progress_at=timezone.now()
    )
    with time_machine.travel(timezone.now() + dt.timedelta(hours=25)):
        assert exports_sweep() == {"expired": 1, "failed": 1}
        assert exports_sweep() == {"expired": 0, "failed": 0}
    job.refresh_from_db()
    stalled.refresh_from_db()
    assert job.status == "expired" and not export_path(job).exists()
    assert stalled.status == "failed"
    response = client.get(reverse("clinic:export-download", args=[job.pk]), follow=True)
    assert "This file is not available" in response.content.decode()
    assert "removed after its expiry" in client.get(reverse("clinic:export-detail", args=[job.pk])).content.decode()


def test_a_failing_export_says_so(client_for, administrator, monkeypatch):
    client = client_for(administrator)
    job = ask_for_export(client, reverse("clinic:audit-export"))

    def broken(params):
        raise RuntimeError("disk full")
        yield

    from clinic import registry

    kind = registry.export_kind("audit")
    monkeypatch.setattr(
        registry, "_export_kinds", {"audit": kind.__class__(**{**kind.__dict__, "rows": broken, "copy": None})}
    )
    assert export_job_run(job_id=job.pk) == "failed"
    page = client.get(reverse("clinic:export-detail", args=[job.pk])).content.decode()
    assert "The export failed: RuntimeError: disk full" in page
    assert not list(export_path(job).parent.glob("*"))


def test_the_list_shows_my_exports(client_for, administrator, django_assert_max_num_queries):
    client = client_for(administrator)
    for _ in range(3):
        ask_for_export(client, reverse("clinic:audit-export"))
    with django_assert_max_num_queries(8):
        page = client.get(reverse("clinic:exports")).content.decode()
    assert page.count("Audit trail") >= 3
    assert 'href="/exports/"' in client.get(reverse("clinic:audit")).content.decode()  # in the navigation


def test_memory_does_not_grow_with_the_number_of_rows(client_for, administrator, monkeypatch):
    monkeypatch.setattr("clinic.exports.CHUNK", 500)  # many chunks in both exports
    client = client_for(administrator)

    def peak_of_export():
        job = ask_for_export(client, reverse("clinic:audit-export"), {"username": "bulk"})
        tracemalloc.start()
        export_job_run(job_id=job.pk)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        job.refresh_from_db()
        return job.rows_done, peak

    bulk_events(6000, username="bulk")
    rows_small, peak_small = peak_of_export()
    bulk_events(24000, start=dt.datetime(2026, 4, 1, tzinfo=dt.UTC), username="bulk")
    rows_big, peak_big = peak_of_export()
    assert (rows_small, rows_big) == (6000, 30000)
    assert peak_big < peak_small * 1.5  # five times the rows, about the same memory


def test_a_compliance_table_is_an_export_job_too(client_for, administrator, site):
    client = client_for(administrator)
    period = {"site": site.pk, "date_from": "2026-01-01", "date_to": "2026-03-01"}
    text = download_export(client, reverse("monitoring:reports-csv", args=["no-show-rate"]), period)
    rows = rows_of(text)
    assert len(rows) >= 2
    job = ExportJob.objects.get()
    assert job.kind == "report:no-show-rate" and job.params == {**period, "site": site.pk}
    assert "Thu 1 Jan 2026 to Sun 1 Mar 2026" in job.label
    assert AuditEvent.objects.filter(action="export", object_type="export_job").count() == 2
