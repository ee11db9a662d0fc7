from __future__ import annotations

from django.urls import include, path

from .api import api

urlpatterns = [
    path("api/", api.urls),
    path("", include("console.usage.urls")),
    path("", include("console.batches.urls")),
    path("", include("console.accounts.urls")),
    path("", include("console.configuration.urls")),
    path("", include("console.audit.urls")),
    path("", include("console.routing.urls")),
    path("", include("console.budgets.urls")),
    path("", include("console.responses.urls")),
    path("", include("console.quality.urls")),
    path("", include("console.context.urls")),
    path("", include("console.health.urls")),
]
