"""Pages for requesters (see `marketplace.web`)."""

from django.urls import URLPattern, URLResolver, path

from marketplace.web.requester import account, dashboard, jobs, organisations

app_name = "requester"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", jobs.job_list, name="jobs"),
    path("jobs/new/", jobs.job_new, name="job-new"),
    path("jobs/preview/", jobs.instructions_preview, name="instructions-preview"),
    path("jobs/<int:job_id>/", jobs.job_detail, name="job"),
    path("jobs/<int:job_id>/preview/", jobs.task_preview, name="task-preview"),
    path("jobs/<int:job_id>/upload/", jobs.job_upload, name="upload"),
    path("jobs/<int:job_id>/media/", jobs.job_media, name="media"),
    path("jobs/<int:job_id>/deposit/", jobs.deposit, name="deposit"),
    *(
        path(f"jobs/<int:job_id>/{action}/", jobs.job_action, {"action": action}, name=f"job-{action}")
        for action in ("launch", "pause", "resume", "cancel")
    ),
    path("jobs/<int:job_id>/dashboard/", dashboard.dashboard, name="dashboard"),
    *(
        path(f"jobs/<int:job_id>/workers/{action}/", dashboard.worker_block, {"action": action}, name=action)
        for action in ("block", "unblock")
    ),
    path("jobs/<int:job_id>/gold-review/", dashboard.gold_settle, name="gold-review"),
    path("jobs/<int:job_id>/complaints/", dashboard.complain, name="complain"),
    path("jobs/<int:job_id>/results/", dashboard.results, name="results"),
    path("jobs/<int:job_id>/agreement/", dashboard.agreement, name="agreement"),
    path("jobs/<int:job_id>/review/", dashboard.review, name="review"),
    path("balance/", account.balance, name="balance"),
    path("webhooks/", account.webhooks, name="webhooks"),
    path("webhooks/<int:endpoint_id>/", account.webhook_detail, name="webhook"),
    path("webhooks/<int:endpoint_id>/test/", account.webhook_test, name="webhook-test"),
    path("webhooks/<int:endpoint_id>/rotate-secret/", account.webhook_rotate, name="webhook-rotate"),
    path("teams/", organisations.teams, name="teams"),
    path("teams/act-for/", organisations.act_for, name="act-for"),
    path("teams/<int:organisation_id>/", organisations.team, name="team"),
    path("teams/<int:organisation_id>/members/<int:user_id>/role/", organisations.member_role, name="member-role"),
    path("teams/<int:organisation_id>/members/<int:user_id>/remove/", organisations.member_leave, name="member-remove"),
]
