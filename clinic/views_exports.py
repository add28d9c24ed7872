"""Exports as background jobs: ask for one (a confirmation page, then POST), follow its
progress, download the file. A job is seen only by the member of staff who asked for it."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from . import exports, registry, tasks
from .models_ops import ExportJob

LIST_SIZE = 50


def _kind_for_user(request, name: str) -> registry.ExportKind:
    kind = registry.export_kind(name)
    if kind is None:
        raise Http404("No such export")
    if not request.user.has_perm(kind.permission):
        raise PermissionDenied
    return kind


def _get_job_for_user(request, pk) -> ExportJob:
    job = get_object_or_404(ExportJob, pk=pk, requested_by=request.user)
    _kind_for_user(request, job.kind)
    return job


@login_required
@permission_required("clinic.view_auditevent", raise_exception=True)
def export_list(request):
    jobs = list(ExportJob.objects.filter(requested_by=request.user)[:LIST_SIZE])
    return render(request, "clinic/export_list.html", {"jobs": jobs, "keep_hours": settings.EXPORT_KEEP_HOURS})


@login_required
def export_new(request):
    """GET: what will be exported, and a button; POST (to the same address): the job is
    queued. What to export is in the query, as the report's link gave it."""
    kind = _kind_for_user(request, request.GET.get("kind", ""))
    params = kind.parse(request.GET)
    if params is None:
        # Back to the report with the same filters: it shows each error beside its field.
        messages.error(request, _("The filters of this export are not valid: correct them on the report first."))
        query = request.GET.copy()
        query.pop("kind", None)
        return redirect(f"{reverse(kind.back_url)}?{query.urlencode()}")
    if request.method != "POST":
        query = request.GET.urlencode()
        return render(request, "clinic/export_new.html", {"label": kind.label(params), "query": query, "kind": kind})
    job = exports.export_request(kind=kind, params=params, request=request)
    tasks.export_run.delay_on_commit(job.pk)
    return redirect("clinic:export-detail", pk=job.pk)


@login_required
def export_detail(request, pk):
    job = _get_job_for_user(request, pk)
    return render(request, "clinic/export_detail.html", {"job": job})


@login_required
def export_progress(request, pk):
    """The progress part of the job's page, polled by htmx until the job is finished."""
    job = _get_job_for_user(request, pk)
    return render(request, "clinic/export_detail_progress.html", {"job": job})


@login_required
def export_download(request, pk):
    job = _get_job_for_user(request, pk)
    path = exports.export_path(job)
    if job.status != ExportJob.Status.DONE or not path.exists():
        messages.error(request, _("This file is not available (not ready yet, or expired): ask for the export again."))
        return redirect("clinic:export-detail", pk=job.pk)
    exports.export_download_record(job=job, request=request)
    return FileResponse(path.open("rb"), as_attachment=True, filename=job.filename, content_type="text/csv")
