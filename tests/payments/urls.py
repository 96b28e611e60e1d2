"""The project's URLconf with the payments API mounted at /api/v1/payments/, as the wiring will do; once the
project mounts it itself, this adds nothing."""

from django.urls import Resolver404, include, path, resolve

from marketplace.urls import urlpatterns as project_urlpatterns

urlpatterns = list(project_urlpatterns)
try:
    resolve("/api/v1/payments/balances/", urlconf="marketplace.urls")
except Resolver404:
    urlpatterns.append(path("api/v1/payments/", include("payments.urls")))
