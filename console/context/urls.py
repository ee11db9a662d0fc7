from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("context/", views.context, name="context"),
    path("context/search/", views.context_search, name="context-search"),
    path("context/reindex/", views.context_reindex, name="context-reindex"),
    path("context/delete/", views.context_delete, name="context-delete"),
]
