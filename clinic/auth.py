"""Authentication backend for staff: Django's ModelBackend, with a staff member's role and
permissions read together.

Every staff page needs both (the navigation shows only what the role may open, audit rows
name the role), and ModelBackend reads user and group permissions in two queries while the
role needs a third. Here one query reads the user's groups, their permissions (through their
groups and their own) and the open staff alerts by audience (the count in the navigation),
once per request (kept on the user object, like ModelBackend's own cache, so a role change
applies from the next request). On PostgreSQL that read is part of the query that loads the
signed-in user at the start of each request."""

from functools import wraps
from typing import NamedTuple

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import CharField, Count, F, OuterRef, QuerySet, Value
from django.db.models.functions import Cast, Concat

from .models import StaffAlert

ACCESS_CACHE = "_clinic_access"


class StaffAccess(NamedTuple):
    groups: frozenset[str]
    perms: frozenset[str]  # "app_label.codename"
    open_alerts: dict[str, int]  # unacknowledged staff alerts by audience


NO_ACCESS = StaffAccess(frozenset(), frozenset(), {})


def _perm_name() -> Concat:
    return Concat("content_type__app_label", Value("."), "codename", output_field=CharField())


def _reads(user) -> tuple[QuerySet, QuerySet, QuerySet, QuerySet]:
    """One column each: the group names of ``user`` (a pk or an OuterRef), the permissions of
    those groups, the user's own permissions, and "audience count" of the open staff alerts."""
    groups = Group.objects.filter(user=user).values_list("name", flat=True)
    group_perms = Permission.objects.filter(group__user=user).values_list(_perm_name(), flat=True)
    own_perms = Permission.objects.filter(user=user).values_list(_perm_name(), flat=True)
    alerts = (
        StaffAlert.objects.filter(acknowledged_at__isnull=True)
        .order_by()
        .values("audience")
        .annotate(v=Concat(F("audience"), Value(" "), Cast(Count("pk"), CharField()), output_field=CharField()))
        .values_list("v", flat=True)
    )
    return groups, group_perms, own_perms, alerts


def _access(groups, group_perms, own_perms, alerts) -> StaffAccess:
    counts = (value.rsplit(" ", 1) for value in alerts)
    return StaffAccess(
        frozenset(groups), frozenset([*group_perms, *own_perms]), {audience: int(n) for audience, n in counts}
    )


def _with_access(users: QuerySet) -> QuerySet:
    """``users`` with their access as four arrays (PostgreSQL): one statement."""
    from django.contrib.postgres.expressions import ArraySubquery

    names = ("_groups", "_group_perms", "_own_perms", "_alerts")
    reads = _reads(OuterRef("pk"))
    return users.annotate(**{name: ArraySubquery(read) for name, read in zip(names, reads, strict=True)})


def staff_access(user) -> StaffAccess:
    """Groups, permissions and open alerts of an active, signed-in user, read once and kept on
    the user object for the rest of the request: one query on PostgreSQL."""
    cached = getattr(user, ACCESS_CACHE, None)
    if cached is None:
        if not (user.is_authenticated and user.is_active):
            cached = NO_ACCESS
        elif connection.vendor == "postgresql":
            User = get_user_model()
            row = _with_access(User.objects.filter(pk=user.pk)).values_list(
                "_groups", "_group_perms", "_own_perms", "_alerts"
            )
            cached = _access(*(row.first() or ([], [], [], [])))
        else:
            cached = _access(*(list(read) for read in _reads(user.pk)))
        setattr(user, ACCESS_CACHE, cached)
    return cached


def has_perm(user, perm: str) -> bool:
    """``user.has_perm(perm)`` for a signed-in staff member without going through every
    backend: a superuser holds every permission, anyone else what ``staff_access`` read."""
    if user.is_superuser:
        return user.is_active
    return perm in staff_access(user).perms


class StaffBackend(ModelBackend):
    """ModelBackend with one query for a user's role and permissions (see the module)."""

    def get_user(self, user_id):
        """The signed-in user of a request. On PostgreSQL their role, permissions and the open
        alerts (``staff_access``) come with the user in the same statement, which every staff
        page would otherwise send next; elsewhere ``staff_access`` reads them on first use."""
        if connection.vendor != "postgresql":
            return super().get_user(user_id)
        user = _with_access(get_user_model()._default_manager.filter(pk=user_id)).first()
        if user is None:
            return None
        access = _access(user._groups, user._group_perms, user._own_perms, user._alerts)
        setattr(user, ACCESS_CACHE, access if user.is_active else NO_ACCESS)
        return user if self.user_can_authenticate(user) else None

    def get_all_permissions(self, user_obj, obj=None):
        if obj is not None or user_obj.is_anonymous or not user_obj.is_active:
            return set()
        if user_obj.is_superuser:
            return super().get_all_permissions(user_obj, obj)
        return set(staff_access(user_obj).perms)


def role_permission_required(perm: str):
    """``permission_required(perm, raise_exception=True)`` for clinical acts: the permission
    must come from the user's roles (or be given to them directly). Superuser status alone is
    not enough: an IT account does not record vitals or override a prescriber's block."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if perm not in staff_access(request.user).perms:
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
