from django.contrib import admin

from .models import AuditEvent, Chair, Closure, OpeningHours, Site

admin.site.site_header = "Clinic administration"
admin.site.site_title = "Clinic administration"


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
