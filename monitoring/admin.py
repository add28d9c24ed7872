from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import ClinicalThresholds, OutcomePlan


@admin.register(ClinicalThresholds)
class ClinicalThresholdsAdmin(admin.ModelAdmin):
    """The clinic's clinical numbers: one row, no add after the first, never deleted."""

    readonly_fields = ["updated_at"]
    fieldsets = [
        (_("Pre-dose blood pressure"), {"fields": ["predose_systolic_max", "predose_diastolic_max"]}),
        (
            _("Alert thresholds (readings are flagged and raise a staff alert)"),
            {
                "fields": [
                    "systolic_high",
                    "diastolic_high",
                    "spo2_low",
                    "spo2_critical",
                    "respiratory_rate_low",
                    "respiratory_rate_high",
                    "heart_rate_low",
                    "heart_rate_high",
                    "moaas_low",
                ]
            },
        ),
        (
            _("Observation"),
            {
                "fields": [
                    "observation_minimum_minutes",
                    "default_checkpoint_minutes",
                    "checkpoint_grace_minutes",
                    "device_mg",
                    "device_rest_minutes",
                ]
            },
        ),
        (_("Clinical times"), {"fields": ["checkin_window_minutes", "late_entry_window_minutes"]}),
        (_("REMS monitoring record"), {"fields": ["rems_window_days", "rems_warning_day", "updated_at"]}),
    ]

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not ClinicalThresholds.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(OutcomePlan)
class OutcomePlanAdmin(admin.ModelAdmin):
    """What each protocol measures: the clinician scale, how often it is rated, and whether a
    course needs the treatment-resistant depression eligibility check."""

    list_display = ["protocol", "clinician_instrument", "rating_every_sessions", "requires_trd_eligibility"]
