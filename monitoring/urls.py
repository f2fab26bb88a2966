from __future__ import annotations

from django.urls import path

from monitoring import views

app_name = "monitoring"

urlpatterns = [
    path("", views.dashboard_view, name="dashboard"),
    path("logs/", views.logs_view, name="logs"),
    path("logs/tail", views.logs_tail, name="logs_tail"),
    path("executions/<uuid:execution_id>/waterfall", views.waterfall_view, name="waterfall"),
]
