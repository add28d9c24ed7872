"""Staff roles. Each role is a Django group; what it may do is a set of permissions.

Data migrations in each app call ``grant()`` for the permissions that app defines, so a
fresh database has the four groups with the right permissions straight after migrate."""

SCHEDULER = "Scheduler"
NURSE = "Nurse"
PRESCRIBER = "Prescriber"
ADMINISTRATOR = "Administrator"
ROLES = (SCHEDULER, NURSE, PRESCRIBER, ADMINISTRATOR)
# When a user holds several roles, the first one here names them in the audit trail and
# picks their home page.
ROLE_PRIORITY = (ADMINISTRATOR, PRESCRIBER, NURSE, SCHEDULER)
# The staff alerts each role sees (StaffAlert.audience): in the navigation's count and on the
# alerts page.
ALERT_AUDIENCES = {
    NURSE: ("nurse",),
    PRESCRIBER: ("nurse", "prescriber"),
    SCHEDULER: ("scheduler",),
    ADMINISTRATOR: ("nurse", "prescriber", "scheduler", "administrator"),
}


def user_role(user) -> str:
    if not getattr(user, "is_authenticated", False):
        return ""
    if user.is_superuser:
        return ADMINISTRATOR
    from .auth import staff_access  # the backend imports auth models: load it on first use

    groups = staff_access(user).groups
    return next((role for role in ROLE_PRIORITY if role in groups), "")


def grant(apps, role_permissions: dict[str, list[tuple[str, str, str, str]]]) -> None:
    """Give roles permissions inside a data migration.

    ``role_permissions`` maps a role to (app_label, model, codename, name) tuples. Content
    types and permissions are created when missing: post_migrate has not run yet on a
    fresh database."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    for role, perms in role_permissions.items():
        group, _ = Group.objects.get_or_create(name=role)
        for app_label, model, codename, name in perms:
            ct, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
            perm, _ = Permission.objects.get_or_create(content_type=ct, codename=codename, defaults={"name": name})
            group.permissions.add(perm)
