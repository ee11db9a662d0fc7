from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("quality/", views.quality, name="quality"),
    path("quality/settings/", views.quality_settings, name="quality-settings"),
    path("quality/orchestration/", views.quality_orchestration, name="quality-orchestration"),
]
