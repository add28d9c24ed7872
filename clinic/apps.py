from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ClinicConfig(AppConfig):
    name = "clinic"
    verbose_name = _("Clinic")

    def ready(self):
        from . import checks, registry, signals  # noqa: F401  (signals: login/logout audit receivers; checks)
        from .exports import AUDIT_EXPORT
        from .roles import ADMINISTRATOR

        registry.export_kind_register(AUDIT_EXPORT)
        registry.nav_register(
            label=_("Exports"), url_name="clinic:exports", permission="clinic.view_auditevent", order=85
        )

        registry.nav_register(
            label=_("Patients"), url_name="clinic:patient-list", permission="clinic.view_patient", order=50
        )
        registry.nav_register(label=_("Audit"), url_name="clinic:audit", permission="clinic.view_auditevent", order=80)
        registry.nav_register(
            label=_("Outbox"), url_name="clinic:outbox", permission="clinic.view_outboxmessage", order=90
        )
        registry.nav_register(
            label=_("Integrations"), url_name="clinic:integrations", permission="clinic.manage_integrations", order=95
        )
        registry.nav_register(label=_("Admin"), url_name="admin:index", permission="clinic.change_site", order=100)
        registry.home_register(role=ADMINISTRATOR, url_name="clinic:audit", order=100)
