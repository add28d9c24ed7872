"""The FHIR R4 export, read-only: ``GET /fhir/Patient/<id>/$everything``,
``GET /fhir/Observation?patient=<id>&date=ge...`` and the clinic's own code system
(``GET /fhir/CodeSystem/clinic``). Access with an integration token
(``Authorization: Bearer <token>``, created by an administrator on the Integrations page) or a
staff sign-in that may read reports. Every request is audited, refused ones too.

The export is for other systems: its codes, displays and texts are English whatever the
clinic's language (``in_english``), as are its error messages for the integrator."""

import functools
import json

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone, translation
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from clinic.audit import audit_record
from clinic.models import AuditAction
from clinic.models_integrations import IntegrationToken
from clinic.services_integrations import integration_token_use, token_audit_name

from . import fhir, selectors_fhir

CONTENT_TYPE = "application/fhir+json"
STAFF_PERMISSION = "monitoring.view_reports"


def in_english(view):
    """Run ``view`` in English: the labels the resources take from the app (a reading's kind,
    why dosing stopped) are the clinic's words on its pages, not in the export."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        with translation.override("en"):
            return view(request, *args, **kwargs)

    return wrapped


def _json(data: dict, status: int = 200) -> HttpResponse:
    response = HttpResponse(json.dumps(data, separators=(",", ":")), content_type=CONTENT_TYPE, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="fhir"'
    return response


def _caller(request) -> tuple[dict | None, HttpResponse | None]:
    """Who asks: audit fields for a valid token or a permitted staff member, else the refusal."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, secret = header.partition(" ")
        token = integration_token_use(secret=secret.strip(), purpose=IntegrationToken.Purpose.FHIR)
        if scheme.lower() == "bearer" and token is not None:
            return {"user": None, "actor": "system", "username": token_audit_name(token)}, None
        return None, _refuse(request, 401, "The token is not valid or has been revoked.", "login")
    if not request.user.is_authenticated:
        return None, _refuse(request, 401, "Send an integration token: Authorization: Bearer <token>.", "login")
    if not request.user.has_perm(STAFF_PERMISSION):
        return None, _refuse(request, 403, "Your role may not read the FHIR export.", "forbidden")
    return {"user": request.user}, None


def _refuse(request, status: int, message: str, code: str) -> HttpResponse:
    audit_record(
        action=AuditAction.DENIED,
        request=request,
        actor="staff" if request.user.is_authenticated else "system",
        object_type="fhir",
        summary={"status": status, "query": request.GET.urlencode()[:500]},
    )
    return _json(fhir.operation_outcome(message, code=code), status=status)


def _base_url(request) -> str:
    return request.build_absolute_uri("/fhir").rstrip("/")


def _mrn_system() -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + "/fhir/sid/mrn"


def _code_system() -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + fhir.CODE_SYSTEM_PATH


@never_cache
@require_GET
@in_english
def patient_everything(request, pk):
    caller, refusal = _caller(request)
    if refusal:
        return refusal
    patient = selectors_fhir.fhir_patient(pk)
    if patient is None:
        audit_record(
            action=AuditAction.EXPORT,
            request=request,
            object_type="fhir",
            object_id=pk,
            **caller,
            summary={"operation": "$everything", "found": False},
        )
        return _json(fhir.operation_outcome(f"No patient {pk}.", code="not-found"), status=404)
    now = timezone.now()
    resources = fhir.everything(
        patient=patient,
        days=selectors_fhir.patient_days(patient, now=now),
        readings=selectors_fhir.patient_readings(patient),
        scores=selectors_fhir.patient_scores(patient),
        mrn_system=_mrn_system(),
        code_system=_code_system(),
    )
    body = fhir.bundle(
        bundle_type="searchset",
        resources=resources,
        base_url=_base_url(request),
        now=now,
        self_url=request.build_absolute_uri(),
    )
    audit_record(
        action=AuditAction.EXPORT,
        request=request,
        patient=patient,
        object_type="fhir",
        object_id=patient.pk,
        summary={"operation": "$everything", "resources": len(resources)},
        **caller,
    )
    return _json(body)


@never_cache
@require_GET
@in_english
def observation_search(request):
    caller, refusal = _caller(request)
    if refusal:
        return refusal
    try:
        if not request.GET.get("patient"):
            raise fhir.SearchError("patient= is required, e.g. /fhir/Observation?patient=12&date=ge2026-11-01.")
        pk = fhir.patient_id(request.GET["patient"])
        since, until = fhir.date_range(request.GET.getlist("date"), timezone.get_current_timezone())
    except fhir.SearchError as exc:
        audit_record(
            action=AuditAction.EXPORT,
            request=request,
            object_type="fhir",
            **caller,
            summary={"operation": "Observation", "error": str(exc)},
        )
        return _json(fhir.operation_outcome(str(exc)), status=400)
    patient = selectors_fhir.fhir_patient(pk)
    now = timezone.now()
    resources, code_system = [], _code_system()
    if patient is not None:
        for reading in selectors_fhir.patient_readings(patient, since=since, until=until):
            resources.extend(fhir.reading_resources(reading, code_system=code_system))
        resources.extend(
            fhir.score_resource(s, code_system=code_system)
            for s in selectors_fhir.patient_scores(patient, since=since, until=until)
        )
    body = fhir.bundle(
        bundle_type="searchset",
        resources=resources,
        base_url=_base_url(request),
        now=now,
        self_url=request.build_absolute_uri(),
    )
    audit_record(
        action=AuditAction.EXPORT,
        request=request,
        patient=patient,
        object_type="fhir",
        object_id=pk,
        summary={
            "operation": "Observation",
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
            "resources": len(resources),
        },
        **caller,
    )
    return _json(body)


@never_cache
@require_GET
@in_english
def code_system(request):
    caller, refusal = _caller(request)
    if refusal:
        return refusal
    audit_record(
        action=AuditAction.VIEW, request=request, object_type="fhir", summary={"operation": "CodeSystem"}, **caller
    )
    return _json(fhir.code_system_resource(url=_code_system()))
