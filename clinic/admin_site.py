"""The Django admin of the clinic: every change made in it is a row in the audit trail's
hash chain, with the values before and after (never a password hash or other secret).

``ClinicAdminSite`` is the project's default admin site (``clinic.admin_apps``). Whatever
ModelAdmin an app (or Django itself: users, groups) registers, the site registers it with
``AuditedAdminMixin`` in front, so a new model in the admin is audited without anyone
remembering to. Django's own ``django_admin_log`` is still written; the audit trail is the
record that counts (it is append-only and chained)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .audit import HIDDEN, audit_record, diff, snapshot
from .models import AuditAction

_BEFORE = "_clinic_admin_before"


def _object_type(obj) -> str:
    return obj._meta.model_name


class AuditedAdminMixin:
    """Audit rows for the admin's adds, changes (with inlines and many-to-many fields) and
    deletions, written in the request's transaction."""

    def save_model(self, request, obj, form, change):
        befores = request.__dict__.setdefault(_BEFORE, {})
        if change:
            befores[(type(obj), obj.pk)] = snapshot(obj)
        super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change):
        """Inline rows: one audit row per inline record added, changed or deleted."""
        model = formset.model
        pks = [f.instance.pk for f in formset.initial_forms if f.instance.pk is not None]
        befores = {o.pk: snapshot(o) for o in model._default_manager.filter(pk__in=pks)}
        deleted_pks = {id(f.instance): f.instance.pk for f in formset.deleted_forms}
        super().save_formset(request, form, formset, change)
        for obj in formset.new_objects:
            self._audit(request, obj, AuditAction.CREATE, diff({}, snapshot(obj)))
        for obj, _fields in formset.changed_objects:
            self._audit(request, obj, AuditAction.UPDATE, diff(befores.get(obj.pk, {}), snapshot(obj)))
        for obj in formset.deleted_objects:
            pk = deleted_pks.get(id(obj), obj.pk)
            self._audit(request, obj, AuditAction.DELETE, diff(befores.get(pk, {}), {}), object_id=pk)

    def log_addition(self, request, obj, message):
        self._audit(request, obj, AuditAction.CREATE, diff({}, snapshot(obj)))
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        before = request.__dict__.get(_BEFORE, {}).pop((type(obj), obj.pk), None)
        if before is None:  # a change made by a view of its own (the user's password form)
            changes = {name: [HIDDEN, HIDDEN] for name in _changed_names(message)}
        else:
            changes = diff(before, snapshot(obj))
        if changes:
            self._audit(request, obj, AuditAction.UPDATE, changes)
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            self._audit(request, obj, AuditAction.DELETE, diff(snapshot(obj), {}))
        return super().log_deletions(request, queryset)

    def _audit(self, request, obj, action, changes, object_id=None):
        audit_record(
            action=action,
            request=request,
            obj=obj,
            object_type=_object_type(obj),
            object_id=object_id if object_id is not None else obj.pk,
            summary={"via": "admin", "record": str(obj)[:120], "changes": changes},
        )


def _changed_names(message) -> set[str]:
    """Field names a change message of the admin names (``[{"changed": {"fields": [...]}}]``).
    Only Django's password form changes a record without ``save_model``: its fields all
    become "password"."""
    names = set()
    for part in message if isinstance(message, list) else []:
        for field in part.get("changed", {}).get("fields", []):
            name = str(field).lower()
            names.add("password" if "password" in name else name)
    if isinstance(message, str) and "password" in message.lower():
        names.add("password")
    return names or {"password"}


class ClinicAdminSite(admin.AdminSite):
    site_header = _("Clinic administration")
    site_title = _("Clinic administration")

    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, AuditedAdminMixin):
            admin_class = type(
                admin_class.__name__, (AuditedAdminMixin, admin_class), {"__module__": admin_class.__module__}
            )
        return super().register(model_or_iterable, admin_class, **options)
