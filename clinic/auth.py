"""Authentication backend for staff: Django's ModelBackend, with a staff member's role and
permissions read together.

Every staff page needs both (the navigation shows only what the role may open, audit rows
name the role), and ModelBackend reads user and group permissions in two queries while the
role needs a third. Here one query reads the user's groups, their groups' permissions and
their own permissions, once per request (kept on the user object, like ModelBackend's own
cache, so a role change applies from the next request)."""

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection

ACCESS_CACHE = "_clinic_access"


def _access_sql() -> str:
    user_groups = Group.user_set.through._meta.db_table
    group_perms = Group.permissions.through._meta.db_table
    user_perms = Permission.user_set.through._meta.db_table
    perm = Permission._meta.db_table
    ct = ContentType._meta.db_table
    group = Group._meta.db_table
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
    """  # noqa: S608 - table names from the models' metadata, the user id is a parameter


def staff_access(user) -> tuple[frozenset[str], frozenset[str]]:
    """(group names, "app_label.codename" permissions) of an active, signed-in user, read
    in one query and kept on the user object for the rest of the request."""
    cached = getattr(user, ACCESS_CACHE, None)
    if cached is None:
        if not (user.is_authenticated and user.is_active):
            cached = (frozenset(), frozenset())
        else:
            with connection.cursor() as cursor:
                cursor.execute(_access_sql(), [user.pk] * 3)
                rows = cursor.fetchall()
            cached = (
                frozenset(name for kind, name in rows if kind == "group"),
                frozenset(name for kind, name in rows if kind == "perm"),
            )
        setattr(user, ACCESS_CACHE, cached)
    return cached


class StaffBackend(ModelBackend):
    """ModelBackend with one query for a user's role and permissions (see the module)."""

    def get_all_permissions(self, user_obj, obj=None):
        if obj is not None or user_obj.is_anonymous or not user_obj.is_active:
            return set()
        if user_obj.is_superuser:
            return super().get_all_permissions(user_obj, obj)
        return set(staff_access(user_obj)[1])
