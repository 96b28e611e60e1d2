from django.urls import include, path

from marketplace.api import accounts, jobs, results, uploads, work

urlpatterns = [
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
    path("jobs/<int:job_id>/progress/", jobs.JobProgressApi.as_view(), name="job-progress"),
    path("jobs/<int:job_id>/results/", results.JobResultListApi.as_view(), name="job-results"),
    path("jobs/<int:job_id>/results/export/", results.JobResultExportApi.as_view(), name="job-results-export"),
    path("jobs/<int:job_id>/aggregation/", results.JobAggregationApi.as_view(), name="job-aggregation"),
    path("jobs/<int:job_id>/workers/", results.JobWorkerListApi.as_view(), name="job-workers"),
    path("uploads/<int:upload_id>/", uploads.UploadDetailApi.as_view(), name="upload-detail"),
    path("", include("workers.urls")),
    path("", include("qualification.urls")),
    path("work/jobs/", work.WorkJobListApi.as_view(), name="work-job-list"),
    path("work/jobs/<int:job_id>/claim/", work.WorkClaimApi.as_view(), name="work-claim"),
    path("work/quality/", work.WorkQualityListApi.as_view(), name="work-quality"),
    path("work/assignments/", work.WorkAssignmentListApi.as_view(), name="work-assignment-list"),
    path("work/assignments/<int:assignment_id>/", work.WorkAssignmentDetailApi.as_view(), name="work-assignment"),
    path("work/assignments/<int:assignment_id>/submit/", work.WorkSubmitApi.as_view(), name="work-submit"),
    path("work/assignments/<int:assignment_id>/release/", work.WorkReleaseApi.as_view(), name="work-release"),
]
