from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Session day"

    def ready(self):
        from clinic import registry
        from clinic.roles import ADMINISTRATOR, NURSE, PRESCRIBER

        registry.nav_register(label="Board", url_name="monitoring:board", permission="monitoring.view_board", order=10)
        reports = "monitoring.view_reports"
        registry.nav_register(label="REMS", url_name="monitoring:rems-worklist", permission=reports, order=60)
        registry.nav_register(label="Reports", url_name="monitoring:reports", permission=reports, order=70)
        for role in (NURSE, PRESCRIBER):
            registry.home_register(role=role, url_name="monitoring:board", order=10)
        registry.home_register(role=ADMINISTRATOR, url_name="monitoring:reports", order=10)
