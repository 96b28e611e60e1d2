"""Routes of the qualification API, included by the project under `/api/v1/`."""

from django.urls import path

from qualification.api import requester, work

urlpatterns = [
    path("qualifications/", requester.QualificationListCreateApi.as_view(), name="qualification-list"),
    path(
        "qualifications/<int:qualification_id>/",
        requester.QualificationDetailApi.as_view(),
        name="qualification-detail",
    ),
    path(
        "qualifications/<int:qualification_id>/questions/",
        requester.QualificationQuestionsApi.as_view(),
        name="qualification-questions",
    ),
    path(
        "qualifications/<int:qualification_id>/grants/",
        requester.GrantListCreateApi.as_view(),
        name="qualification-grants",
    ),
    path(
        "qualifications/<int:qualification_id>/grants/<int:grant_id>/revoke/",
        requester.GrantRevokeApi.as_view(),
        name="qualification-grant-revoke",
    ),
    path("work/qualifications/", work.WorkQualificationListApi.as_view(), name="work-qualification-list"),
    path(
        "work/qualifications/<int:qualification_id>/attempts/",
        work.WorkAttemptStartApi.as_view(),
        name="work-attempt-start",
    ),
    path("work/attempts/<int:attempt_id>/", work.WorkAttemptDetailApi.as_view(), name="work-attempt"),
    path("work/attempts/<int:attempt_id>/submit/", work.WorkAttemptSubmitApi.as_view(), name="work-attempt-submit"),
]
