from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("config/", views.config_list, name="config-list"),
    path("config/entry/", views.config_edit, name="config-edit"),
    path("rollback/", views.rollback, name="rollback"),
]
