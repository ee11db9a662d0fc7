from __future__ import annotations

from django.urls import path
from django.views.decorators.http import require_GET
from django.views.generic import RedirectView

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    # The Overview's live part used to poll a URL of its own (GET only); pages still open
    # keep working.
    path(
        "overview/live",
        require_GET(RedirectView.as_view(pattern_name="home")),
        name="overview-live",
    ),
    path("stats/", views.statistics, name="statistics"),
]
