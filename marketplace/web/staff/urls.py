"""The staff console (see `marketplace.web.staff.views`)."""

from django.urls import URLPattern, URLResolver, path

from marketplace.web.staff import views

app_name = "staff"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.disputes, name="disputes"),
    path("disputes/<int:dispute_id>/decide/", views.dispute_decide, name="decide"),
    path("gold/", views.gold, name="gold"),
    path("blocks/", views.blocks, name="blocks"),
    path("figures/", views.figures, name="figures"),
]
