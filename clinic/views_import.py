"""Patient import (/patients/import/): an administrator uploads a CSV file of patients. “Check
the file” shows what an import would do, row by row, with each row's errors, and writes
nothing; “Import” writes every row in one transaction, only when no row has an error."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from . import imports, services_import
from .audit import audit_record
from .models import AuditAction

PREVIEW_ROWS = 50
PREVIEW_ERRORS = 500


class ImportForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("CSV file of patients"), help_text=gettext_lazy("Columns as in the template; UTF-8.")
    )
    mode = forms.ChoiceField(
        label=gettext_lazy("Mode"),
        choices=[
            ("check", gettext_lazy("Check the file (dry run: nothing is saved)")),
            ("import", gettext_lazy("Import")),
        ],
        initial="check",
        widget=forms.RadioSelect,
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > imports.MAX_BYTES:
            raise ValidationError(
                _("The file is larger than %(mb)s MB: split it into several files.") % {"mb": imports.MAX_MEGABYTES},
                code="too_big",
            )
        return upload


@login_required
@permission_required("clinic.import_patients", raise_exception=True)
@require_http_methods(["GET", "POST"])
def patient_import(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    context = {"form": form, "preview_rows": PREVIEW_ROWS, "preview_errors": PREVIEW_ERRORS}
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            plan = imports.plan(upload.read())
        except imports.FileError as exc:
            form.add_error("file", ValidationError(str(exc), code="unreadable"))
            return render(request, "integrations/patient_import.html", context)
        if form.cleaned_data["mode"] == "import" and plan.ok:
            counts = services_import.patients_import(plan=plan, file_name=upload.name, request=request)
            messages.success(
                request,
                _("Imported: %(new)s new patients, %(updated)s updated, %(unchanged)s already up to date.") % counts,
            )
            return redirect("clinic:patient-import")
        audit_record(
            action=AuditAction.VIEW,
            request=request,
            object_type="patient_import",
            summary={"checked": upload.name[:120], "rows": len(plan.rows), "errors": len(plan.errors)},
        )
        context.update(plan=plan, file_name=upload.name, asked_import=form.cleaned_data["mode"] == "import")
    return render(request, "integrations/patient_import.html", context)


@login_required
@permission_required("clinic.import_patients", raise_exception=True)
@require_GET
def patient_import_template(request):
    response = HttpResponse(imports.template_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="patients-template.csv"'
    return response
