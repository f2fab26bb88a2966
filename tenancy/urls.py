from __future__ import annotations

from django.urls import path

from tenancy import views

app_name = "tenancy"

urlpatterns = [
    path("", views.workspace_list, name="list"),
    path("switch/", views.switch_workspace, name="switch"),
]
