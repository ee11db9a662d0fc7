from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("batches/", views.batches, name="batches"),
    path("batches/<str:batch_id>/", views.batch_detail, name="batch-detail"),
    path("batches/<str:batch_id>/cancel/", views.batch_cancel, name="batch-cancel"),
]
