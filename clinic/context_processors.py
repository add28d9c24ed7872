"""What every page's frame shows (templates/base.html): the clinic's name and, for a signed-in
user, the main navigation (templates/partials/navigation.html). The navigation lists the
entries the installed apps registered (clinic.registry) that the user's permissions open."""

from functools import cached_property

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from . import registry
from .auth import staff_access
from .roles import ALERT_AUDIENCES, user_role


def _url(name: str) -> str | None:
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


class Navigation:
    """The navigation of a signed-in user, worked out when a template first reads it (a
    fragment without the navigation, such as a refreshed board table, costs nothing)."""

    def __init__(self, request):
        self.request = request
        self.user = request.user

    @cached_property
    def role(self) -> str:
        return user_role(self.user)

    @cached_property
    def entries(self) -> list[dict]:
        """The entries the user's permissions open, in order; only the longest one matching
        the path is active (/schedule/week/ is "Week", not also "Day")."""
        user = self.user
        superuser = user.is_superuser and user.is_active
        perms = frozenset() if superuser else staff_access(user).perms
        entries = [
            {"label": entry.label, "url": url, "active": False}
            for entry in registry.nav_entries()
            if (superuser or entry.permission in perms) and (url := _url(entry.url_name))
        ]
        path = self.request.path
        matching = [entry for entry in entries if entry["url"] != "/" and path.startswith(entry["url"])]
        if matching:
            max(matching, key=lambda entry: len(entry["url"]))["active"] = True
        return entries

    @property
    def idle_seconds(self) -> int:
        """The idle limit, for the warning a minute before it signs the user out (static/js/idle.js)."""
        return settings.SESSION_IDLE_TIMEOUT

    @cached_property
    def alerts_url(self) -> str | None:
        return _url("clinic:alerts")

    @cached_property
    def alert_count(self) -> int:
        """The open staff alerts of the user's role."""
        counts = staff_access(self.user).open_alerts
        return sum(counts.get(audience, 0) for audience in ALERT_AUDIENCES.get(self.role, ()))


def navigation(request):
    ctx = {"clinic_name": settings.CLINIC_NAME}
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        ctx["navigation"] = Navigation(request)
    return ctx
