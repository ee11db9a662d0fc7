from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("responses/", views.responses, name="responses"),
    path("responses/settings/", views.responses_settings, name="responses-settings"),
    path("responses/invalidate/", views.responses_invalidate, name="responses-invalidate"),
]
