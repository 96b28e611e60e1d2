from django.urls import path

from marketplace.api import accounts, jobs, uploads

urlpatterns = [
    path("me/", accounts.MeApi.as_view(), name="me"),
    path("jobs/", jobs.JobListCreateApi.as_view(), name="job-list"),
    path("jobs/<int:job_id>/", jobs.JobDetailApi.as_view(), name="job-detail"),
    path("jobs/<int:job_id>/launch/", jobs.JobLaunchApi.as_view(), name="job-launch"),
    path("jobs/<int:job_id>/pause/", jobs.JobPauseApi.as_view(), name="job-pause"),
    path("jobs/<int:job_id>/resume/", jobs.JobResumeApi.as_view(), name="job-resume"),
    path("jobs/<int:job_id>/cancel/", jobs.JobCancelApi.as_view(), name="job-cancel"),
    path("jobs/<int:job_id>/items/", jobs.JobItemListApi.as_view(), name="job-items"),
    path("jobs/<int:job_id>/tasks/", jobs.JobTaskListApi.as_view(), name="job-tasks"),
    path("jobs/<int:job_id>/uploads/", uploads.JobUploadListCreateApi.as_view(), name="job-uploads"),
    path("uploads/<int:upload_id>/", uploads.UploadDetailApi.as_view(), name="upload-detail"),
]
