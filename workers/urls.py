from django.urls import path

from workers import api

urlpatterns = [
    path("admin/workers/<int:user_id>/ban/", api.WorkerBanApi.as_view(), name="worker-ban"),
    path("admin/workers/<int:user_id>/unban/", api.WorkerUnbanApi.as_view(), name="worker-unban"),
]
