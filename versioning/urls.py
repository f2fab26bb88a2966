from __future__ import annotations

from django.urls import path

from versioning import views

app_name = "versioning"

urlpatterns = [
    path("<uuid:execution_id>/", views.versions, name="versions"),
    path("<uuid:execution_id>/diff", views.diff, name="diff"),
    path("<uuid:execution_id>/versions/<int:version>/rerun", views.rerun, name="rerun"),
]
