"""Websocket routes of the orchestration app."""

from __future__ import annotations

from django.urls import URLPattern, path

from orchestration.consumers import ExecutionConsumer, ExecutionListConsumer

# django-stubs types path() for HTTP views only; Channels routes ASGI consumers with it.
websocket_urlpatterns: list[URLPattern] = [
    path("ws/executions/", ExecutionListConsumer.as_asgi()),  # type: ignore[arg-type]
    path("ws/executions/<uuid:execution_id>/", ExecutionConsumer.as_asgi()),  # type: ignore[arg-type]
]
