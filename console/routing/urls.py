from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("routing/", views.routing, name="routing"),
    path("routing/circuits/", views.routing_circuit, name="routing-circuit"),
]
