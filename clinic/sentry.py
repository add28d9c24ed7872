"""Optional error reports to Sentry (SENTRY_DSN), with patient data scrubbed before an event
leaves the server: no query strings, request bodies, cookies, headers, local variables or user
details, only the path and the user's id. Needs the sentry-sdk package (not in the runtime
requirements: pip install sentry-sdk)."""

from django.core.exceptions import ImproperlyConfigured

from .log_redaction import redact

KEPT_HEADERS = {"User-Agent", "Content-Type"}


def scrub(event: dict, hint=None) -> dict:
    """Sentry's ``before_send``: the event without anything that could name a patient."""
    request = event.get("request") or {}
    for key in ("query_string", "data", "cookies", "env"):
        request.pop(key, None)
    if "url" in request:
        request["url"] = redact(request["url"])
    if "headers" in request:
        request["headers"] = {k: v for k, v in request["headers"].items() if k in KEPT_HEADERS}
    user = event.get("user") or {}
    event["user"] = {"id": user["id"]} if "id" in user else {}
    for crumb in (event.get("breadcrumbs") or {}).get("values", []):
        if isinstance(crumb.get("message"), str):
            crumb["message"] = redact(crumb["message"])
        crumb.pop("data", None)
    for exception in (event.get("exception") or {}).get("values", []):
        for frame in (exception.get("stacktrace") or {}).get("frames", []):
            frame.pop("vars", None)
    if isinstance(event.get("logentry"), dict):
        event["logentry"].pop("params", None)
    return event


def sentry_init(dsn: str, *, environment: str) -> None:
    try:
        import sentry_sdk
    except ImportError:
        raise ImproperlyConfigured(
            "SENTRY_DSN is set but the sentry-sdk package is not installed: pip install sentry-sdk"
        ) from None
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        traces_sample_rate=0,
        before_send=scrub,
    )
