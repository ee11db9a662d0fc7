from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from . import batch_views, token_views, usage_views, user_views, views
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
    path("users/", user_views.users, name="users"),
    path("password/", user_views.password_change, name="password-change"),
    path("tokens/", token_views.tokens, name="tokens"),
    path("tokens/<int:token_id>/revoke/", token_views.revoke, name="token-revoke"),
    path("api/", api.urls),
    path("healthz", views.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
