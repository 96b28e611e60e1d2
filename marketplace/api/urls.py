from django.urls import include, path

from marketplace.api import accounts, blocks, disputes, jobs, results, reviews, uploads, webhooks, work

# The worker's endpoints first: they serve most requests, and a URL is matched against the patterns in order.
_work = [
    path("jobs/", work.WorkJobListApi.as_view(), name="work-job-list"),
    path("jobs/<int:job_id>/claim/", work.WorkClaimApi.as_view(), name="work-claim"),
    path("quality/", work.WorkQualityListApi.as_view(), name="work-quality"),
    path("assignments/", work.WorkAssignmentListApi.as_view(), name="work-assignment-list"),
    path("assignments/<int:assignment_id>/", work.WorkAssignmentDetailApi.as_view(), name="work-assignment"),
    path("assignments/<int:assignment_id>/submit/", work.WorkSubmitApi.as_view(), name="work-submit"),
    path(
        "assignments/<int:assignment_id>/submit-and-claim/",
        work.WorkSubmitAndClaimApi.as_view(),
        name="work-submit-and-claim",
    ),
    path("assignments/<int:assignment_id>/release/", work.WorkReleaseApi.as_view(), name="work-release"),
    path("assignments/<int:assignment_id>/appeal/", disputes.WorkAppealApi.as_view(), name="work-appeal"),
    path("disputes/", disputes.WorkDisputeListApi.as_view(), name="work-dispute-list"),
    path("blocks/", blocks.WorkBlockListApi.as_view(), name="work-block-list"),
]

urlpatterns = [
    path("work/", include(_work)),
    path("me/", accounts.MeApi.as_view(), name="me"),
    path("jobs/", jobs.JobListCreateApi.as_view(), name="job-list"),
    path("jobs/<int:job_id>/", jobs.JobDetailApi.as_view(), name="job-detail"),
    path("jobs/<int:job_id>/launch/", jobs.JobLaunchApi.as_view(), name="job-launch"),
    path("jobs/<int:job_id>/pause/", jobs.JobPauseApi.as_view(), name="job-pause"),
    path("jobs/<int:job_id>/resume/", jobs.JobResumeApi.as_view(), name="job-resume"),
    path("jobs/<int:job_id>/cancel/", jobs.JobCancelApi.as_view(), name="job-cancel"),
    path("jobs/<int:job_id>/items/", jobs.JobItemListApi.as_view(), name="job-items"),
    path("jobs/<int:job_id>/items/<int:item_id>/gold-review/", jobs.GoldReviewApi.as_view(), name="gold-review"),
    path("jobs/<int:job_id>/tasks/", jobs.JobTaskListApi.as_view(), name="job-tasks"),
    path("jobs/<int:job_id>/uploads/", uploads.JobUploadListCreateApi.as_view(), name="job-uploads"),
    path("jobs/<int:job_id>/cost/", jobs.JobCostApi.as_view(), name="job-cost"),
    path("jobs/<int:job_id>/progress/", jobs.JobProgressApi.as_view(), name="job-progress"),
    path("jobs/<int:job_id>/assignments/", reviews.JobAssignmentListApi.as_view(), name="job-assignments"),
    path("jobs/<int:job_id>/review/", reviews.JobReviewApi.as_view(), name="job-review"),
    path("jobs/<int:job_id>/bonuses/", reviews.JobBonusApi.as_view(), name="job-bonuses"),
    path("jobs/<int:job_id>/disputes/", disputes.JobDisputeListApi.as_view(), name="job-disputes"),
    path("jobs/<int:job_id>/complaints/", disputes.JobComplaintApi.as_view(), name="job-complaints"),
    path("jobs/<int:job_id>/results/", results.JobResultListApi.as_view(), name="job-results"),
    path("jobs/<int:job_id>/results/export/", results.JobResultExportApi.as_view(), name="job-results-export"),
    path("jobs/<int:job_id>/aggregation/", results.JobAggregationApi.as_view(), name="job-aggregation"),
    path("jobs/<int:job_id>/agreement/", results.JobAgreementApi.as_view(), name="job-agreement"),
    path("jobs/<int:job_id>/workers/", results.JobWorkerListApi.as_view(), name="job-workers"),
    path(
        "jobs/<int:job_id>/workers/<int:worker_id>/block/", blocks.JobWorkerBlockApi.as_view(), name="job-worker-block"
    ),
    path(
        "jobs/<int:job_id>/workers/<int:worker_id>/unblock/",
        blocks.JobWorkerUnblockApi.as_view(),
        name="job-worker-unblock",
    ),
    path("blocks/", blocks.RequesterBlockListApi.as_view(), name="block-list"),
    path("workers/<int:worker_id>/block/", blocks.RequesterWorkerBlockApi.as_view(), name="worker-block"),
    path("workers/<int:worker_id>/unblock/", blocks.RequesterWorkerUnblockApi.as_view(), name="worker-unblock"),
    path("jobs/<int:job_id>/webhooks/", webhooks.JobWebhookListCreateApi.as_view(), name="job-webhooks"),
    path("webhooks/", webhooks.WebhookListCreateApi.as_view(), name="webhook-list"),
    path("webhooks/<int:webhook_id>/", webhooks.WebhookDetailApi.as_view(), name="webhook-detail"),
    path("webhooks/<int:webhook_id>/rotate-secret/", webhooks.WebhookRotateSecretApi.as_view(), name="webhook-rotate"),
    path("webhooks/<int:webhook_id>/test/", webhooks.WebhookTestApi.as_view(), name="webhook-test"),
    path("webhooks/<int:webhook_id>/deliveries/", webhooks.WebhookDeliveryListApi.as_view(), name="webhook-deliveries"),
    path("uploads/<int:upload_id>/", uploads.UploadDetailApi.as_view(), name="upload-detail"),
    path("", include("workers.urls")),
    path("", include("qualification.urls")),
    path("payments/", include("payments.urls")),
    path("admin/disputes/", disputes.StaffDisputeListApi.as_view(), name="admin-dispute-list"),
    path("admin/disputes/<int:dispute_id>/", disputes.StaffDisputeDetailApi.as_view(), name="admin-dispute"),
    path(
        "admin/disputes/<int:dispute_id>/resolve/",
        disputes.StaffDisputeResolveApi.as_view(),
        name="admin-dispute-resolve",
    ),
]
