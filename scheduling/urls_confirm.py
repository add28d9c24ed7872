"""The patient's confirmation link: public (no login), signed token in the path."""

from django.urls import path

from . import views_confirm

app_name = "confirm"

urlpatterns = [
    path("c/<str:token>/", views_confirm.confirm_session, name="session"),
    path("c/<str:token>/done/", views_confirm.confirm_done, name="done"),
]
