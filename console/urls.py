from __future__ import annotations

from django.urls import include, path

from . import batch_views
from .api import api

urlpatterns = [
    path("batches/", batch_views.batches, name="batches"),
    path("batches/<str:batch_id>/", batch_views.batch_detail, name="batch-detail"),
    path("batches/<str:batch_id>/cancel/", batch_views.batch_cancel, name="batch-cancel"),
    path("api/", api.urls),
    path("", include("console.usage.urls")),
    path("", include("console.accounts.urls")),
    path("", include("console.configuration.urls")),
    path("", include("console.audit.urls")),
    path("", include("console.health.urls")),
]
