from django.urls import path

from . import views, views_outcomes, views_rems_pdf, views_reports

app_name = "monitoring"

urlpatterns = [
    path("board/", views.board, name="board"),
    path("board/table/", views.board_partial, name="board-table"),
    path("sessions/<int:pk>/day/", views.session_day, name="session-day"),
    path("sessions/<int:pk>/day/check-in/", views.check_in, name="check-in"),
    path("sessions/<int:pk>/day/vitals/", views.vitals_record, name="vitals-record"),
    path("sessions/<int:pk>/day/vitals/<int:reading_pk>/correct/", views.vitals_correct, name="vitals-correct"),
    path("sessions/<int:pk>/day/override/", views.predose_override, name="predose-override"),
    path("sessions/<int:pk>/day/dose/", views.dose_record, name="dose-record"),
    path("sessions/<int:pk>/day/dose/device/", views.device_record, name="device-record"),
    path("sessions/<int:pk>/day/dose/infusion-end/", views.infusion_end, name="infusion-end"),
    path("sessions/<int:pk>/day/dose/stop/", views.dose_stop, name="dose-stop"),
    path("sessions/<int:pk>/day/dose/first-dose-override/", views.first_dose_override, name="first-dose-override"),
    path("sessions/<int:pk>/day/adverse-events/", views.adverse_event, name="adverse-event"),
    path("sessions/<int:pk>/day/discharge/override/", views.discharge_override, name="discharge-override"),
    path("sessions/<int:pk>/day/discharge/", views.discharge, name="discharge"),
    path("sessions/<int:pk>/rems/", views.rems_record, name="rems-record"),
    path("sessions/<int:pk>/rems.pdf", views_rems_pdf.rems_record_pdf, name="rems-pdf"),
    path("reports/rems/pdf/", views_rems_pdf.rems_period_pdf, name="rems-period-pdf"),
    path("sessions/<int:pk>/rems/submitted/", views.rems_submit, name="rems-submit"),
    path("sessions/<int:pk>/rems/addenda/", views.rems_addendum, name="rems-addendum"),
    path("sessions/<int:pk>/day/addenda/", views.session_addendum, name="session-addendum"),
    path("reports/rems/", views.rems_worklist, name="rems-worklist"),
    path("reports/", views_reports.reports_page, name="reports"),
    path("reports/<slug:slug>.csv", views_reports.reports_csv, name="reports-csv"),
    # Outcome scores
    path("c/<str:token>/questions/", views_outcomes.questionnaire, name="questionnaire"),
    path("c/<str:token>/questions/done/", views_outcomes.questionnaire_done, name="questionnaire-done"),
    path("sessions/<int:pk>/day/rating/", views_outcomes.rating_record, name="rating-record"),
    path(
        "sessions/<int:pk>/day/scores/<int:score_pk>/acknowledge/",
        views_outcomes.safety_acknowledge,
        name="safety-acknowledge",
    ),
    path("patients/<int:pk>/antidepressants/", views_outcomes.patient_history, name="patient-history"),
    path(
        "patients/<int:pk>/antidepressants/override/", views_outcomes.eligibility_override, name="eligibility-override"
    ),
    path("reports/outcomes/", views_outcomes.outcomes_report, name="outcomes-report"),
    path("reports/outcomes/export.csv", views_outcomes.outcomes_csv, name="outcomes-csv"),
]
