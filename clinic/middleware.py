from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.utils import timezone

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
                messages.info(request, "You were signed out after a period of inactivity. Please sign in again.")
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
