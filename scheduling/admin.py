from django.contrib import admin

from .models import Protocol, ProtocolPhase


class ProtocolPhaseInline(admin.TabularInline):
    model = ProtocolPhase
    extra = 0
    fields = [
        "order",
        "name",
        "weeks",
        "sessions",
        "sessions_per_week",
        "interval_weeks",
        "min_days_between",
        "default_dose_mg",
        "dosing_minutes",
        "observation_minutes",
        "turnover_minutes",
        "review_after",
    ]


@admin.register(Protocol)
class ProtocolAdmin(admin.ModelAdmin):
    """Administrators edit the shipped protocols (phase lengths, doses, session minutes) here;
    courses already booked keep their sessions."""

    list_display = ["name", "drug", "requires_rems", "active"]
    list_filter = ["drug", "active"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [ProtocolPhaseInline]
