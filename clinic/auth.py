"""Authentication backend for staff: Django's ModelBackend, with a staff member's role and
permissions read together.

Every staff page needs both (the navigation shows only what the role may open, audit rows
name the role), and ModelBackend reads user and group permissions in two queries while the
role needs a third. Here one query reads the user's groups, their groups' permissions, their
own permissions and the open staff alerts by audience (the count in the navigation), once per
request (kept on the user object, like ModelBackend's own cache, so a role change applies
from the next request)."""

from typing import NamedTuple

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection

from .models import StaffAlert

ACCESS_CACHE = "_clinic_access"


def _access_sql() -> str:
    user_groups = Group.user_set.through._meta.db_table
    group_perms = Group.permissions.through._meta.db_table
    user_perms = Permission.user_set.through._meta.db_table
    perm = Permission._meta.db_table
    ct = ContentType._meta.db_table
    group = Group._meta.db_table
    alert = StaffAlert._meta.db_table
    return f"""
        SELECT 'group', g.name FROM {group} g
          JOIN {user_groups} ug ON ug.group_id = g.id WHERE ug.user_id = %s
        UNION ALL
        SELECT 'perm', ct.app_label || '.' || p.codename FROM {perm} p
          JOIN {ct} ct ON ct.id = p.content_type_id
          JOIN {group_perms} gp ON gp.permission_id = p.id
          JOIN {user_groups} ug ON ug.group_id = gp.group_id WHERE ug.user_id = %s
        UNION ALL
        SELECT 'perm', ct.app_label || '.' || p.codename FROM {perm} p
          JOIN {ct} ct ON ct.id = p.content_type_id
          JOIN {user_perms} up ON up.permission_id = p.id WHERE up.user_id = %s
        UNION ALL
        SELECT 'alerts', a.audience || ' ' || COUNT(*) FROM {alert} a
          WHERE a.acknowledged_at IS NULL GROUP BY a.audience
    """  # noqa: S608 - table names from the models' metadata, the user id is a parameter


class StaffAccess(NamedTuple):
    groups: frozenset[str]
    perms: frozenset[str]  # "app_label.codename"
    open_alerts: dict[str, int]  # unacknowledged staff alerts by audience


NO_ACCESS = StaffAccess(frozenset(), frozenset(), {})


def staff_access(user) -> StaffAccess:
    """Groups, permissions and open alerts of an active, signed-in user, read in one query
    and kept on the user object for the rest of the request."""
    cached = getattr(user, ACCESS_CACHE, None)
    if cached is None:
        if not (user.is_authenticated and user.is_active):
            cached = NO_ACCESS
        else:
            with connection.cursor() as cursor:
                cursor.execute(_access_sql(), [user.pk] * 3)
                rows = cursor.fetchall()
            alerts = (value.rsplit(" ", 1) for kind, value in rows if kind == "alerts")
            cached = StaffAccess(
                frozenset(name for kind, name in rows if kind == "group"),
                frozenset(name for kind, name in rows if kind == "perm"),
                {audience: int(n) for audience, n in alerts},
            )
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

    def get_all_permissions(self, user_obj, obj=None):
        if obj is not None or user_obj.is_anonymous or not user_obj.is_active:
            return set()
        if user_obj.is_superuser:
            return super().get_all_permissions(user_obj, obj)
        return set(staff_access(user_obj).perms)
