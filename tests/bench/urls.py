"""URLconf of the scale benchmark only (selected with ROOT_URLCONF=tests.bench.urls): the
app's own URLs plus two reference pages measured on the same stack.

- ``bench/baseline/``: one indexed query and a tiny template, behind the same login and
  middleware as every page: the practical limit for a Django page.
- the Django admin changelist of sessions: what a team would otherwise use. The project's
  own registration is used when there is one; otherwise a plain ModelAdmin on a separate
  AdminSite, so nothing is added to the app's admin."""

from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.template import engines
from django.urls import path

from clinic.models import Patient
from clinic.urls import handler403, handler404, handler500  # noqa: F401
from clinic.urls import urlpatterns as app_urlpatterns
from scheduling.models import Session

BASELINE_TEMPLATE = engines["django"].from_string(
    "<!doctype html><title>Patient</title><p>{{ patient.mrn }} {{ patient.last_name }}</p>"
)


@login_required
def baseline(request):
    pk = request.GET.get("pk", "1")
    patient = Patient.objects.filter(pk=int(pk) if pk.isdigit() else 1).values("mrn", "last_name")[:1]
    # No request: no context processors, so the page does nothing but its one query.
    return HttpResponse(BASELINE_TEMPLATE.render({"patient": patient[0] if patient else None}))


class BenchSessionAdmin(admin.ModelAdmin):
    list_display = ("id", "start", "patient", "chair", "status")
    list_filter = ("status",)
    list_select_related = ("patient", "chair")


bench_admin_site = admin.AdminSite(name="bench_admin")
if Session in admin.site._registry:
    ADMIN_CHANGELIST = "/admin/scheduling/session/"
else:
    bench_admin_site.register(Session, BenchSessionAdmin)
    ADMIN_CHANGELIST = "/bench/admin/scheduling/session/"

urlpatterns = [
    path("bench/baseline/", baseline, name="bench-baseline"),
    path("bench/admin/", bench_admin_site.urls),
    *app_urlpatterns,
]
