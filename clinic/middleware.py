from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.shortcuts import redirect, resolve_url
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

ACTIVITY_WRITE_SECONDS = 60


class SessionTimeoutMiddleware:
    """Log staff out after SESSION_IDLE_MINUTES without a request, and after
    SESSION_ABSOLUTE_HOURS whatever the activity. Board auto-refresh requests carry the
    ``X-Idle-Refresh`` header and do not count as activity."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            now = timezone.now().timestamp()
            last = request.session.get("last_activity", now)
            started = request.session.get("auth_started_at", now)
            idle = now - last > settings.SESSION_IDLE_TIMEOUT
            expired = now - started > settings.SESSION_ABSOLUTE_TIMEOUT
            if idle or expired:
                request.logout_reason = "idle timeout" if idle else "session time limit"
                logout(request)
                messages.info(request, _("You were signed out after a period of inactivity. Please sign in again."))
                return redirect_to_login(request.get_full_path())
            # Activity is written at most once a minute: a session row is not rewritten by
            # every request, and the idle limit stays exact to within that minute.
            stale = "last_activity" not in request.session or now - last >= ACTIVITY_WRITE_SECONDS
            if stale and not request.headers.get("X-Idle-Refresh"):
                request.session["last_activity"] = now
            if "auth_started_at" not in request.session:
                request.session["auth_started_at"] = now
        return self.get_response(request)


class SecurityHeadersMiddleware:
    """Content-Security-Policy (no inline scripts), Permissions-Policy and X-Frame-Options on
    every response: it sits above WhiteNoise and the other middleware, so static files and
    error responses raised by any of them (a 400 for an unknown host) carry them too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if not getattr(response, "xframe_options_exempt", False):
            response.setdefault("X-Frame-Options", settings.X_FRAME_OPTIONS)
        return response


class SecondFactorMiddleware:
    """A signed-in user who must give a second factor (clinic.second_factor.is_required) and has
    not yet in this session reaches only the second-factor pages and the sign-out; any other
    page sends them there, and back to the page afterwards. After django-otp's OTPMiddleware."""

    ALLOWED_URL_NAMES = ("second-factor", "second-factor-setup", "logout")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from .second_factor import has_device, is_required, is_verified

        if is_required(request) and not is_verified(request):
            match = getattr(resolve_or_none(request.path_info), "url_name", None)
            if match not in self.ALLOWED_URL_NAMES:
                target = "second-factor" if has_device(request.user) else "second-factor-setup"
                return redirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)


def resolve_or_none(path: str):
    try:
        return resolve(path)
    except Resolver404:
        return None


class HtmxSignInMiddleware:
    """An htmx request (the board's refresh every few seconds) sent to the sign-in page, after
    the idle limit or the session's time limit, would paste that page inside the board. It gets
    ``HX-Redirect`` instead: htmx takes the whole window to the sign-in page, whose ``next`` is
    the page the browser shows (``HX-Current-URL``, on this host only), so signing in returns
    there. Outside SessionTimeoutMiddleware and every view's login_required."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.headers.get("HX-Request") != "true" or response.status_code not in (301, 302, 303, 307, 308):
            return response
        login_url = resolve_url(settings.LOGIN_URL)
        if urlsplit(response.get("Location", "")).path != login_url:
            return response
        shown = urlsplit(request.headers.get("HX-Current-URL", ""))
        page = shown.path + (f"?{shown.query}" if shown.query else "")
        if not page or not url_has_allowed_host_and_scheme(
            request.headers.get("HX-Current-URL", ""), {request.get_host()}, require_https=request.is_secure()
        ):
            page = "/"
        redirected = HttpResponse(status=200)
        redirected["HX-Redirect"] = f"{login_url}?{urlencode({'next': page})}"
        return redirected
