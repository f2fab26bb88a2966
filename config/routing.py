"""Websocket URL patterns of every app, gathered for the ASGI router."""

from __future__ import annotations

from orchestration.routing import websocket_urlpatterns as orchestration_patterns
from safety.routing import websocket_urlpatterns as safety_patterns

websocket_urlpatterns = [*orchestration_patterns, *safety_patterns]
