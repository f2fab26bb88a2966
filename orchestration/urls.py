from __future__ import annotations

from django.urls import path

from orchestration import views

app_name = "orchestration"

urlpatterns = [
    path("", views.index, name="index"),
]
