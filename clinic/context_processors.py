"""Navigation: each entry is shown only to users holding its permission. Entries name URL
patterns of every app by string, so this core app imports none of them."""

import functools

from django.conf import settings
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse

from .auth import has_perm, staff_access
from .roles import user_role

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


def _url(name):
    # The same URLs on every page: reversed once per URLconf and script prefix.
    return _reverse(name, get_urlconf() or settings.ROOT_URLCONF, get_script_prefix())


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"clinic_name": settings.CLINIC_NAME}
    items = []
    for label, name, perm in NAV_ITEMS:
        url = _url(name)
        if url and has_perm(user, perm):
            items.append({"label": label, "url": url, "active": False})
    # Only the longest matching entry is active: /schedule/week/ is "Week", not also "Day".
    matches = [item for item in items if request.path.startswith(item["url"]) and item["url"] != "/"]
    if matches:
        max(matches, key=lambda item: len(item["url"]))["active"] = True
    role = user_role(user)
    counts = staff_access(user).open_alerts
    open_alerts = sum(counts.get(audience, 0) for audience in ALERT_AUDIENCES.get(role, ()))
    return {
        "clinic_name": settings.CLINIC_NAME,
        "nav_items": items,
        "user_role": role,
        "open_alert_count": open_alerts,
        "alerts_url": _url("clinic:alerts"),
    }
