from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from metrics.http import home

urlpatterns = [
    # A short address for the admin sync page; before "admin/" so the admin does not 404 it.
    path("admin/sync/", RedirectView.as_view(pattern_name="admin:metrics_weeklymetric_sync")),
    path("admin/", admin.site.urls),
    path("", home.home, name="home"),  # what this server is, for a person (not an API)
    path("", include("metrics.urls")),
]
