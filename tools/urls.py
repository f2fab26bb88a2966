from __future__ import annotations

from django.urls import path

from tools import views

app_name = "tools"

urlpatterns = [
    path("", views.catalogue_page, name="catalogue"),
    path("<str:name>/setting/", views.tool_setting, name="setting"),
]
