import secrets

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext_lazy, ngettext

from .accounts import group_permission_names, staff_password_reset_send
from .audit import audit_record
from .auth import staff_access
from .models import AuditAction, AuditEvent, Chair, Closure, OpeningHours, Site


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    extra = 0


class ClosureInline(admin.TabularInline):
    model = Closure
    extra = 0


class ChairInline(admin.TabularInline):
    model = Chair
    extra = 0


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["name", "time_zone", "phone"]
    inlines = [OpeningHoursInline, ClosureInline, ChairInline]


@admin.register(Chair)
class ChairAdmin(admin.ModelAdmin):
    list_display = ["name", "site", "active"]
    list_filter = ["site", "active"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit trail is append-only (the database refuses changes too)."""

    list_display = ["created_at", "username", "role", "action", "object_type", "object_id", "patient"]
    list_filter = ["action", "object_type"]
    list_select_related = ["patient"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Staff accounts: nobody grants what they do not hold ---------------------------------
User = get_user_model()
admin.site.unregister(User)
admin.site.unregister(Group)


class StaffInviteForm(forms.ModelForm):
    """A new staff account made by an administrator who is not a superuser: no password is
    typed; the new member of staff sets their own through the reset link sent to them."""

    class Meta:
        model = User
        fields = ["username", "first_name", "last_name", "email"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].required = True

    def save(self, commit=True):
        user = super().save(commit=False)
        # Nobody knows this password: the reset link replaces it.
        user.set_password(secrets.token_urlsafe(32))
        if commit:
            user.save()
        return user


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    """Superuser status, direct permissions and the staff flag change only by a superuser.
    Anyone else may give another user only roles whose every permission they hold
    themselves, never changes their own roles, and never sets someone else's password (a new
    account gets a reset link by e-mail; an existing one uses "Forgot your password?")."""

    actions = ["send_password_reset"]

    @admin.action(description=gettext_lazy("Send a password reset link"), permissions=["change"])
    def send_password_reset(self, request, queryset):
        """The way to give someone a new password: they choose it from the mailed link."""
        sent = 0
        for user in queryset.exclude(email=""):
            if user.is_superuser and self._limited(request):
                continue
            staff_password_reset_send(user=user, request=request)
            audit_record(
                action=AuditAction.PASSWORD_RESET,
                request=request,
                object_type="user",
                object_id=user.pk,
                summary={"link": "sent", "to_user": user.get_username()},
            )
            sent += 1
        # The same English either way: "member(s)" as the page has always said it.
        words = ngettext(
            "Password reset link sent to %(count)s member(s) of staff (those with an e-mail).",
            "Password reset link sent to %(count)s member(s) of staff (those with an e-mail).",
            sent,
        )
        self.message_user(request, words % {"count": sent})

    def _limited(self, request) -> bool:
        return not request.user.is_superuser

    def get_fieldsets(self, request, obj=None):
        if obj is None and self._limited(request):
            return [(None, {"fields": ["username", "first_name", "last_name", "email"]})]
        return super().get_fieldsets(request, obj)

    def get_form(self, request, obj=None, **kwargs):
        if obj is None and self._limited(request):
            kwargs["form"] = StaffInviteForm
            return admin.ModelAdmin.get_form(self, request, obj, **kwargs)
        form = super().get_form(request, obj, **kwargs)
        if not self._limited(request) or "groups" not in form.base_fields:
            return form
        held = set(staff_access(request.user).perms)

        class LimitedRolesForm(form):
            def clean_groups(self):
                groups = self.cleaned_data["groups"]
                before = set(self.instance.groups.all()) if self.instance.pk else set()
                for group in set(groups) - before:
                    lacking = set(group_permission_names(group)) - held
                    if lacking:
                        raise ValidationError(
                            gettext_lazy(
                                "You cannot give the role %(role)s: it holds permissions you do not have "
                                "(%(perms)s). Ask a superuser."
                            ),
                            code="role_beyond_own",
                            params={"role": group.name, "perms": ", ".join(sorted(lacking))},
                        )
                return groups

        return LimitedRolesForm

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if self._limited(request) and obj is not None:
            readonly += ["is_superuser", "is_staff", "user_permissions", "last_login", "date_joined"]
            if obj.pk == request.user.pk:
                readonly += ["groups", "is_active"]
        return readonly

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and self._limited(request):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    def user_change_password(self, request, id, form_url=""):
        if self._limited(request):
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change and self._limited(request):
            staff_password_reset_send(user=obj, request=request)


@admin.register(Group)
class RoleAdmin(GroupAdmin):
    """Roles and their permissions are changed by a superuser only."""

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser
