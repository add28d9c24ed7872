from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = _("Session day")

    def ready(self):
        from clinic import registry
        from clinic.roles import ADMINISTRATOR, NURSE, PRESCRIBER

        registry.nav_register(
            label=_("Board"), url_name="monitoring:board", permission="monitoring.view_board", order=10
        )
        reports = "monitoring.view_reports"
        registry.nav_register(label=_("REMS"), url_name="monitoring:rems-worklist", permission=reports, order=60)
        registry.nav_register(label=_("Reports"), url_name="monitoring:reports", permission=reports, order=70)
        from .exports_reports import report_export_kinds

        for kind in report_export_kinds():
            registry.export_kind_register(kind)
        registry.nav_register(label=_("Outcomes"), url_name="monitoring:outcomes-report", permission=reports, order=75)
        from .outcomes_panels import course_panel, course_start_check, patient_panel

        registry.course_panel_register("outcome-scores", course_panel)
        registry.course_start_check_register("trd-eligibility", course_start_check)
        registry.patient_panel_register("antidepressants", patient_panel)
        for role in (NURSE, PRESCRIBER):
            registry.home_register(role=role, url_name="monitoring:board", order=10)
        registry.home_register(role=ADMINISTRATOR, url_name="monitoring:reports", order=10)
        from . import audit_words

        audit_words.register()
