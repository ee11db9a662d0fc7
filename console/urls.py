from __future__ import annotations

from django.urls import include, path

from . import batch_views, usage_views, views
from .api import api

urlpatterns = [
    path("", usage_views.home, name="home"),
    path("overview/live", usage_views.overview_live, name="overview-live"),
    path("stats/", usage_views.statistics, name="statistics"),
    path("config/", views.config_list, name="config-list"),
    path("config/entry/", views.config_edit, name="config-edit"),
    path("rollback/", views.rollback, name="rollback"),
    path("audit/", views.audit_log, name="audit"),
    path("batches/", batch_views.batches, name="batches"),
    path("batches/<str:batch_id>/", batch_views.batch_detail, name="batch-detail"),
    path("batches/<str:batch_id>/cancel/", batch_views.batch_cancel, name="batch-cancel"),
    path("api/", api.urls),
    path("healthz", views.healthz, name="healthz"),
    path("", include("console.accounts.urls")),
]
