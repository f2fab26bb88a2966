from __future__ import annotations

from django.urls import path

from orchestration import views

app_name = "orchestration"

urlpatterns = [
    # The console lives at /orchestrate (no trailing slash), its pages below it.
    path("orchestrate", views.index, name="index"),
    path("orchestrate/files/", views.upload, name="upload"),
    path("orchestrate/outbox/", views.outbox, name="outbox"),
    path("orchestrate/outbox/<str:name>", views.outbox_message, name="outbox_message"),
    path("orchestrate/outbox/<str:name>/<int:index>", views.outbox_attachment_file, name="outbox_attachment"),
    path("orchestrate/calendar/", views.calendar, name="calendar"),
    path("orchestrate/files/<uuid:workspace_id>/<path:name>", views.drive_file, name="drive_file"),
    path("orchestrate/executions/<uuid:execution_id>/", views.execution_detail, name="execution"),
    path("orchestrate/executions/<uuid:execution_id>/cancel", views.cancel_execution, name="cancel"),
    path("orchestrate/executions/<uuid:execution_id>/resume", views.resume_execution, name="resume"),
    path("orchestrate/executions/<uuid:execution_id>/answer", views.answer_execution, name="answer"),
    path("orchestrate/executions/<uuid:execution_id>/run", views.run_execution, name="run"),
    path(
        "orchestrate/executions/<uuid:execution_id>/steps/<int:step_number>/output",
        views.step_output,
        name="step_output",
    ),
]
