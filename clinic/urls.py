from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView

from . import views, views_account, views_audit, views_exports, views_import, views_integrations, views_outbox

clinic_patterns = [
    path("patients/", views.patient_list, name="patient-list"),
    path("patients/new/", views.patient_create, name="patient-create"),
    path("patients/<int:pk>/", views.patient_detail, name="patient-detail"),
    path("patients/<int:pk>/edit/", views.patient_edit, name="patient-edit"),
    path("patients/<int:pk>/access/", views_audit.patient_access, name="patient-access"),
    path("audit/", views_audit.audit_list, name="audit"),
    path("audit/export.csv", views_audit.audit_export, name="audit-export"),
    path("exports/", views_exports.export_list, name="exports"),
    path("exports/new/", views_exports.export_new, name="export-new"),
    path("exports/<int:pk>/", views_exports.export_detail, name="export-detail"),
    path("exports/<int:pk>/progress/", views_exports.export_progress, name="export-progress"),
    path("exports/<int:pk>/download/", views_exports.export_download, name="export-download"),
    path("audit/lockouts/", views_audit.audit_lockouts, name="audit-lockouts"),
    path("audit/lockouts/unlock/", views_audit.audit_unlock, name="audit-unlock"),
    path("alerts/", views.alert_list, name="alerts"),
    path("alerts/<int:pk>/acknowledge/", views.alert_acknowledge, name="alert-acknowledge"),
    path("outbox/", views_outbox.outbox, name="outbox"),
    path("outbox/<slug:source>/<int:pk>/retry/", views_outbox.outbox_retry, name="outbox-retry"),
    path("integrations/", views_integrations.integrations, name="integrations"),
    path("integrations/<int:pk>/revoke/", views_integrations.integration_revoke, name="integration-revoke"),
    path("patients/import/", views_import.patient_import, name="patient-import"),
    path("patients/import/template.csv", views_import.patient_import_template, name="patient-import-template"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # Browsers ask for /favicon.ico whatever the page's <link rel="icon"> says: the same icon
    # (resolved when asked, so the hashed name of collected static files is found).
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("favicon.svg"), permanent=True), name="favicon"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/", views_account.account, name="account"),
    path("accounts/second-factor/", views_account.second_factor_check, name="second-factor"),
    path("accounts/second-factor/setup/", views_account.second_factor_setup, name="second-factor-setup"),
    path("accounts/second-factor/recovery-codes/", views_account.recovery_codes, name="recovery-codes"),
    path("accounts/password/", views_account.PasswordChange.as_view(), name="password_change"),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(template_name="registration/password_change_done.html"),
        name="password_change_done",
    ),
    path("accounts/reset/", views_account.PasswordReset.as_view(), name="password_reset"),
    path(
        "accounts/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="registration/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/", views_account.PasswordResetConfirm.as_view(), name="password_reset_confirm"
    ),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="registration/password_reset_complete.html"),
        name="password_reset_complete",
    ),
    path("admin/", admin.site.urls),
    path("", include((clinic_patterns, "clinic"))),
    path("", include("scheduling.urls")),
    path("", include("monitoring.urls")),
    path("fhir/", include("monitoring.urls_fhir")),
    path("", include("scheduling.urls_calendar")),
    path("", include("scheduling.urls_confirm")),
]

handler403 = "clinic.views.permission_denied"
handler404 = "clinic.views.page_not_found"
handler500 = "clinic.views.server_error"
