"""Calendar files: a site's session feed behind an integration token (``/calendar/<token>.ics``,
created and revoked by an administrator on the Integrations page; every fetch audited) and the
patient's own session from their confirmation link (``/c/<token>/session.ics``)."""

from django.conf import settings
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from clinic.audit import audit_record
from clinic.models import AuditAction
from clinic.models_integrations import IntegrationToken
from clinic.services_integrations import integration_token_use, token_audit_name

from . import calendar, selectors_calendar
from .views_confirm import _session_for

CONTENT_TYPE = "text/calendar; charset=utf-8"


def _domain(request) -> str:
    return request.get_host().split(":")[0] or "clinic"


def _ics(body: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=CONTENT_TYPE)
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


@never_cache
@require_GET
def site_feed(request, token):
    feed = integration_token_use(secret=token, purpose=IntegrationToken.Purpose.CALENDAR)
    if feed is None:
        raise Http404("No such calendar feed.")
    now = timezone.now()
    sessions = list(selectors_calendar.site_feed_sessions(feed.site, now=now))
    body = calendar.site_feed(sessions, site=feed.site, domain=_domain(request), now=now)
    audit_record(
        action=AuditAction.EXPORT,
        request=request,
        actor="system",
        username=token_audit_name(feed),
        obj=feed.site,
        object_type="calendar_feed",
        summary={"sessions": len(sessions)},
    )
    return _ics(body, "sessions.ics")


@never_cache
@require_GET
def patient_session_ics(request, token):
    session, refusal = _session_for(request, token)
    if refusal:
        return refusal
    body = calendar.patient_session(
        session,
        clinic_name=settings.CLINIC_NAME,
        phone=session.chair.site.phone or settings.CLINIC_PHONE,
        domain=_domain(request),
        now=timezone.now(),
    )
    audit_record(
        action=AuditAction.EXPORT,
        request=request,
        actor="patient",
        obj=session,
        object_type="session_ics",
        summary={"calendar": "session.ics"},
    )
    return _ics(body, "appointment.ics")
