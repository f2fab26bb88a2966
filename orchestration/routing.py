"""Websocket routes of the orchestration app."""

from __future__ import annotations

from django.urls import URLPattern, path

from orchestration.consumers import ExecutionConsumer, ExecutionListConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/executions/", ExecutionListConsumer.as_asgi()),
    path("ws/executions/<uuid:execution_id>/", ExecutionConsumer.as_asgi()),
]
