from __future__ import annotations

from django.urls import path

from safety import views

app_name = "safety"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("<uuid:approval_id>/decide/", views.decide_approval, name="decide"),
    path("<uuid:approval_id>/files/<str:sha256>", views.approved_file, name="approved_file"),
]
