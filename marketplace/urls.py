from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from health_check.views import HealthCheckView

from marketplace.api.root import ApiRootApi
from marketplace.observability.metrics import metrics_view

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("_allauth/", include("allauth.headless.urls")),
    path("api/v1/", include("marketplace.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("health/", HealthCheckView.as_view(checks=settings.HEALTH_CHECKS), name="health"),
    path("metrics", metrics_view, name="metrics"),
    path("", include("marketplace.web.urls")),  # the pages for people: /work/, /requester/, /staff/
    # Last, as the API's hot routes are matched in order: the landing page and the API root.
    path("api/v1/", ApiRootApi.as_view(), name="api-root"),
    path("", TemplateView.as_view(template_name="marketplace/landing.html"), name="landing"),
]

handler404 = "marketplace.api.errors.not_found"
handler500 = "marketplace.api.errors.server_error"
