"""Navigation: each entry is shown only to users holding its permission. Entries name URL
patterns of every app by string, so this core app imports none of them."""

import functools

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.middleware.csrf import get_token
from django.templatetags.static import static
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.safestring import SafeString, mark_safe

from .auth import staff_access
from .roles import user_role
from .selectors import escaped

NAV_ITEMS = (
    # (label, url name, permission)
    ("Board", "monitoring:board", "monitoring.view_board"),
    ("Day", "scheduling:day", "scheduling.view_schedule"),
    ("Week", "scheduling:week", "scheduling.view_schedule"),
    ("Rides", "scheduling:transport-list", "scheduling.view_schedule"),
    ("Patients", "clinic:patient-list", "clinic.view_patient"),
    ("REMS", "monitoring:rems-worklist", "monitoring.view_reports"),
    ("Reports", "monitoring:reports", "monitoring.view_reports"),
    ("Audit", "clinic:audit", "clinic.view_auditevent"),
    ("Outbox", "clinic:outbox", "clinic.view_outboxmessage"),
    ("Admin", "admin:index", "clinic.change_site"),
)

ALERT_AUDIENCES = {
    "Nurse": ("nurse",),
    "Prescriber": ("nurse",),
    "Scheduler": ("scheduler",),
    "Administrator": ("nurse", "scheduler", "administrator"),
}


@functools.lru_cache(maxsize=128)
def _reverse(name, urlconf, prefix):
    try:
        return reverse(name, urlconf=urlconf)
    except NoReverseMatch:
        return None


def _urls_key() -> tuple[str, str]:
    # The navigation's URLs are the same on every page: reversed once per URLconf and script
    # prefix (see _reverse).
    return get_urlconf() or settings.ROOT_URLCONF, get_script_prefix()


@functools.lru_cache(maxsize=64)
def _entries(superuser: bool, perms: frozenset, urlconf, prefix) -> tuple[tuple[str, str], ...]:
    # The (label, URL) entries a set of permissions opens (has_perm's rule: a superuser holds
    # every permission): the same for every page a user sees, so worked out once per role
    # (and URLconf) rather than on every request.
    return tuple(
        (label, url)
        for label, name, perm in NAV_ITEMS
        if (url := _reverse(name, urlconf, prefix)) and (superuser or perm in perms)
    )


@functools.lru_cache(maxsize=256)
def _links_html(entries: tuple[tuple[str, str], ...], active: int | None) -> str:
    return "".join(
        '<li class="nav-item"><a class="nav-link{}" href="{}"{}>{}</a></li>'.format(
            " active" if i == active else "",
            escaped(url),
            ' aria-current="page"' if i == active else "",
            escaped(label),
        )
        for i, (label, url) in enumerate(entries)
    )


def navbar_html(request) -> SafeString:
    """The main navigation of a signed-in user, as base.html shows it: the entries their
    permissions open (the longest one matching the path marked active), the open alerts of
    their role, their name and role, and the sign-out form. Built here rather than in the
    template: it is on every page."""
    user = request.user
    urls_key = _urls_key()
    superuser = user.is_superuser and user.is_active
    items = _entries(superuser, frozenset() if superuser else staff_access(user).perms, *urls_key)
    # Only the longest matching entry is active: /schedule/week/ is "Week", not also "Day".
    matches = [i for i, (_, url) in enumerate(items) if url != "/" and request.path.startswith(url)]
    active = max(matches, key=lambda i: len(items[i][1]), default=None)
    links = _links_html(items, active)
    role = user_role(user)
    alerts = ""
    home, alerts_url, logout = (_reverse(name, *urls_key) for name in ("home", "clinic:alerts", "logout"))
    if alerts_url:
        counts = staff_access(user).open_alerts
        count = sum(counts.get(audience, 0) for audience in ALERT_AUDIENCES.get(role, ()))
        badge = "bg-danger" if count else "bg-secondary"
        alerts = (
            f'<li class="nav-item"><a class="nav-link" href="{escaped(alerts_url)}">Alerts '
            f'<span class="badge {badge}" id="alert-count">{count}</span></a></li>'
        )
    who = escaped(user.get_full_name() or user.get_username()) + (f" · {escaped(role)}" if role else "")
    return mark_safe(  # noqa: S308 - every value escaped above
        '<nav class="navbar navbar-expand-lg navbar-dark navbar-clinic" aria-label="Main navigation">\n'
        '  <div class="container-fluid">\n'
        f'    <a class="navbar-brand" href="{escaped(home or "/")}">Clinic</a>\n'
        '    <button class="navbar-toggler" type="button" data-bs-toggle="collapse" data-bs-target="#mainnav" '
        'aria-controls="mainnav" aria-expanded="false" aria-label="Toggle navigation">\n'
        '      <span class="navbar-toggler-icon"></span>\n'
        "    </button>\n"
        '    <div class="collapse navbar-collapse" id="mainnav">\n'
        f'      <ul class="navbar-nav me-auto">{links}</ul>\n'
        f'      <ul class="navbar-nav">{alerts}\n'
        f'        <li class="nav-item"><span class="navbar-text me-3">{who}</span></li>\n'
        '        <li class="nav-item">\n'
        f'          <form method="post" action="{escaped(logout)}" class="d-inline">'
        f'<input type="hidden" name="csrfmiddlewaretoken" value="{escaped(get_token(request))}">'
        '<button class="btn btn-outline-light btn-sm mt-1" type="submit">Sign out</button></form>\n'
        "        </li>\n"
        "      </ul>\n"
        "    </div>\n"
        "  </div>\n"
        "</nav>"
    )


# The files every page loads (base.html), in order.
STYLESHEETS = ("vendor/bootstrap/bootstrap.min.css", "css/app.css")
SCRIPTS = ("vendor/bootstrap/bootstrap.bundle.min.js", "vendor/htmx/htmx.min.js", "js/app.js")


@functools.cache
def asset_tags() -> tuple[SafeString, SafeString]:
    """The <link> tags of the stylesheets and the <script> tags of the scripts of every page.
    Built once: finding a file's URL in the static files manifest took about 17 µs a file,
    on every request."""
    links = "".join(f'<link rel="stylesheet" href="{escaped(static(path))}">' for path in STYLESHEETS)
    scripts = "".join(f'<script src="{escaped(static(path))}"></script>' for path in SCRIPTS)
    return mark_safe(links), mark_safe(scripts)  # noqa: S308 - URLs escaped


@receiver(setting_changed)
def _forget_asset_tags(*, setting, **kwargs):
    if setting in ("STATIC_URL", "STATIC_ROOT", "STORAGES"):
        asset_tags.cache_clear()


def navigation(request):
    stylesheets, scripts = asset_tags()
    ctx = {"clinic_name": settings.CLINIC_NAME, "stylesheets": stylesheets, "scripts": scripts}
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        # A callable: the template calls it where it prints it, so a fragment without the
        # navigation (a refreshed board table) does not build it.
        ctx["navbar"] = functools.partial(navbar_html, request)
    return ctx
