"""The worker's pages under /work/."""

from django.urls import path

from marketplace.web.worker import inbox, qualify, views

app_name = "worker"

urlpatterns = [
    path("", views.job_list, name="jobs"),
    path("jobs/<int:job_id>/", views.job_detail, name="job"),
    path("jobs/<int:job_id>/claim/", views.job_claim, name="claim"),
    path("tasks/<int:assignment_id>/", views.assignment_detail, name="assignment"),
    path("tasks/<int:assignment_id>/submit/", views.assignment_submit, name="submit"),
    path("tasks/<int:assignment_id>/skip/", views.assignment_skip, name="skip"),
    path("earnings/", views.earnings, name="earnings"),
    path("payouts/", views.payout_create, name="payout"),
    path("tasks/<int:assignment_id>/appeal/", views.assignment_appeal, name="appeal"),
    path("notifications/", inbox.notifications, name="notifications"),
    path("qualifications/", qualify.qualification_list, name="qualifications"),
    path("qualifications/<int:qualification_id>/start/", qualify.qualification_start, name="qualification-start"),
    path("tests/<int:attempt_id>/", qualify.attempt_detail, name="attempt"),
    path("tests/<int:attempt_id>/submit/", qualify.attempt_answer, name="attempt-submit"),
]
