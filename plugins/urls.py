from __future__ import annotations

from django.urls import path

from plugins import views

app_name = "plugins"

urlpatterns = [
    path("", views.plugin_list, name="list"),
    path("<str:name>/toggle/", views.toggle, name="toggle"),
    path("<str:name>/settings/", views.edit_settings, name="settings"),
]
