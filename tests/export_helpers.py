"""Exports as a member of staff gets them: the report's "Download CSV" link, the confirmation
page, the button; then the worker writes the file (run here in process) and the download."""

from django.urls import reverse

from clinic.exports import export_job_run
from clinic.models import ExportJob


def ask_for_export(client, url: str, params: dict | None = None) -> ExportJob:
    link = client.get(url, params or {})
    assert link.status_code == 302, link.status_code
    confirm = link["Location"]
    assert client.get(confirm).status_code == 200
    queued = client.post(confirm)
    assert queued.status_code == 302, queued.status_code
    return ExportJob.objects.latest("id")


def download_export(client, url: str, params: dict | None = None) -> str:
    """The CSV text of the export the link at ``url`` asks for."""
    job = ask_for_export(client, url, params)
    export_job_run(job_id=job.pk)
    response = client.get(reverse("clinic:export-download", args=[job.pk]))
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/csv")
    return b"".join(response.streaming_content).decode()
