"""Calendar files: the staff feed of a site (integration token) and the patient's own session
(their signed confirmation link). No sign-in: the token is the key."""

from django.urls import path

from . import views_calendar

app_name = "calendar"

urlpatterns = [
    path("calendar/<str:token>.ics", views_calendar.site_feed, name="site-feed"),
    path("c/<str:token>/session.ics", views_calendar.patient_session_ics, name="patient-session"),
]
