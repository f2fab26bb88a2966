from __future__ import annotations

from django.urls import path

from tools_mcp import views

app_name = "tools_mcp"

urlpatterns = [
    path("", views.server_list, name="list"),
    path("<uuid:server_id>/", views.server_detail, name="detail"),
    path("<uuid:server_id>/refresh/", views.refresh, name="refresh"),
    path("<uuid:server_id>/toggle/", views.toggle, name="toggle"),
    path("<uuid:server_id>/delete/", views.delete, name="delete"),
]
