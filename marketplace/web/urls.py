"""The pages' URLs, one module per area; `/` (the landing page) is in `marketplace.urls`."""

from django.urls import include, path

app_name = "web"

urlpatterns = [
    path("work/", include("marketplace.web.worker.urls")),
    path("requester/", include("marketplace.web.requester.urls")),
    path("staff/", include("marketplace.web.staff.urls")),
]
