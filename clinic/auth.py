"""Authentication backend for staff: Django's ModelBackend, with a staff member's role and
permissions read together.

Every staff page needs both (the navigation shows only what the role may open, audit rows
name the role), and ModelBackend reads user and group permissions in two queries while the
role needs a third. Here one query reads the user's groups, their groups' permissions, their
own permissions and the open staff alerts by audience (the count in the navigation), once per
request (kept on the user object, like ModelBackend's own cache, so a role change applies
from the next request). On PostgreSQL that query is part of the one that loads the signed-in
user at the start of each request."""

import functools
from typing import NamedTuple

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection

from .models import StaffAlert
from .rows import instances_from, select_list

ACCESS_CACHE = "_clinic_access"


def _access_parts(user: str) -> tuple[str, str, str]:
    """Three statements of one text column ``v``: the user's group names, their permissions
    ("app_label.codename", through their groups and their own) and the open staff alerts by
    audience ("audience count"). ``user`` is what the user ids are compared with."""
    user_groups = Group.user_set.through._meta.db_table
    group_perms = Group.permissions.through._meta.db_table
    user_perms = Permission.user_set.through._meta.db_table
    perm = Permission._meta.db_table
    ct = ContentType._meta.db_table
    group = Group._meta.db_table
    alert = StaffAlert._meta.db_table
    # Table names from the models' metadata; ``user`` is a placeholder or a column.
    groups = f"""SELECT g.name AS v FROM {group} g
          JOIN {user_groups} ug ON ug.group_id = g.id WHERE ug.user_id = {user}"""  # noqa: S608
    perms = f"""SELECT ct.app_label || '.' || p.codename AS v FROM {perm} p
          JOIN {ct} ct ON ct.id = p.content_type_id
          JOIN {group_perms} gp ON gp.permission_id = p.id
          JOIN {user_groups} ug ON ug.group_id = gp.group_id WHERE ug.user_id = {user}
        UNION ALL
        SELECT ct.app_label || '.' || p.codename AS v FROM {perm} p
          JOIN {ct} ct ON ct.id = p.content_type_id
          JOIN {user_perms} up ON up.permission_id = p.id WHERE up.user_id = {user}"""  # noqa: S608
    alerts = f"""SELECT a.audience || ' ' || COUNT(*) AS v FROM {alert} a
          WHERE a.acknowledged_at IS NULL GROUP BY a.audience"""  # noqa: S608
    return groups, perms, alerts


@functools.cache
def _access_sql() -> str:
    groups, perms, alerts = _access_parts("%s")
    return " UNION ALL ".join(
        f"SELECT '{kind}', v FROM ({sql}) {kind}_rows"  # noqa: S608 - the statements above
        for kind, sql in (("group", groups), ("perm", perms), ("alerts", alerts))
    )


@functools.cache
def _user_with_access_sql() -> str:
    User = get_user_model()
    table = connection.ops.quote_name(User._meta.db_table)
    pk = f"{table}.{connection.ops.quote_name(User._meta.pk.column)}"
    groups, perms, alerts = _access_parts(pk)
    return (
        f"SELECT {select_list(User)}, ARRAY({groups}), ARRAY({perms}), ARRAY({alerts}) "  # noqa: S608
        f"FROM {table} WHERE {pk} = %s"
    )


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
            cached = _access(
                [name for kind, name in rows if kind == "group"],
                [name for kind, name in rows if kind == "perm"],
                [value for kind, value in rows if kind == "alerts"],
            )
        setattr(user, ACCESS_CACHE, cached)
    return cached


def _access(groups, perms, alerts) -> StaffAccess:
    counts = (value.rsplit(" ", 1) for value in alerts)
    return StaffAccess(frozenset(groups), frozenset(perms), {audience: int(n) for audience, n in counts})


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
        with connection.cursor() as cursor:
            cursor.execute(_user_with_access_sql(), [user_id])
            row = cursor.fetchone()
        if row is None:
            return None
        (user,) = instances_from(row[:-3], get_user_model())
        setattr(user, ACCESS_CACHE, _access(*row[-3:]) if user.is_active else NO_ACCESS)
        return user if self.user_can_authenticate(user) else None

    def get_all_permissions(self, user_obj, obj=None):
        if obj is not None or user_obj.is_anonymous or not user_obj.is_active:
            return set()
        if user_obj.is_superuser:
            return super().get_all_permissions(user_obj, obj)
        return set(staff_access(user_obj).perms)
