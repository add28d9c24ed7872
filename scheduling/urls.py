from django.urls import path

from . import views

app_name = "scheduling"

urlpatterns = [
    path("schedule/", views.day, name="day"),
    path("schedule/week/", views.week, name="week"),
    path("schedule/transport/", views.transport_list, name="transport-list"),
    path("courses/new/", views.course_create, name="course-create"),
    path("courses/<int:pk>/", views.course_detail, name="course-detail"),
    path("courses/<int:pk>/replan/", views.course_replan, name="course-replan"),
    path("courses/<int:pk>/stop/", views.course_stop, name="course-stop"),
    path("courses/<int:pk>/review/", views.course_review, name="course-review"),
    path("courses/reviews/", views.review_list, name="review-list"),
    path("sessions/<int:pk>/", views.session_detail, name="session-detail"),
    path("sessions/<int:pk>/move/", views.session_move, name="session-move"),
    path("sessions/<int:pk>/cancel/", views.session_cancel, name="session-cancel"),
    path("sessions/<int:pk>/no-show/", views.session_no_show, name="session-no-show"),
    path("sessions/<int:pk>/transport/", views.session_transport, name="session-transport"),
]
