from __future__ import annotations

from django.urls import path

from orchestration import views

app_name = "orchestration"

urlpatterns = [
    # The console lives at /orchestrate (no trailing slash), its pages below it.
    path("orchestrate", views.index, name="index"),
]
