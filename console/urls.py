from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from . import token_views, views
from .api import api

urlpatterns = [
    path("", views.home, name="home"),
    path("config/", views.config_list, name="config-list"),
    path("config/entry/", views.config_edit, name="config-edit"),
    path("rollback/", views.rollback, name="rollback"),
    path("audit/", views.audit_log, name="audit"),
    path("tokens/", token_views.tokens, name="tokens"),
    path("tokens/<int:token_id>/revoke/", token_views.revoke, name="token-revoke"),
    path("api/", api.urls),
    path("healthz", views.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]
