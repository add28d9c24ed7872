from django.contrib.admin.apps import AdminConfig


class ClinicAdminConfig(AdminConfig):
    """Django's admin with the clinic's site (``clinic.admin_site``): every change audited."""

    default_site = "clinic.admin_site.ClinicAdminSite"
