from django.urls import path

from workers import api

urlpatterns = [
    path("admin/workers/<int:user_id>/ban/", api.WorkerBanApi.as_view(), name="worker-ban"),
    path("admin/workers/<int:user_id>/unban/", api.WorkerUnbanApi.as_view(), name="worker-unban"),
    path("work/notifications/", api.NotificationListApi.as_view(), name="work-notification-list"),
    path("work/notifications/read/", api.NotificationReadApi.as_view(), name="work-notifications-read"),
    path("work/notification-settings/", api.NotificationSettingsApi.as_view(), name="work-notification-settings"),
]
