"""The FHIR R4 export (read-only), mounted at /fhir/ by the project's URL configuration."""

from django.urls import path

from . import views_fhir

app_name = "fhir"

urlpatterns = [
    path("Patient/<int:pk>/$everything", views_fhir.patient_everything, name="patient-everything"),
    path("Observation", views_fhir.observation_search, name="observation-search"),
    path("CodeSystem/clinic", views_fhir.code_system, name="code-system"),
]
