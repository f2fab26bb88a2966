"""Websocket routes of the safety app."""

from __future__ import annotations

from django.urls import URLPattern, path

from safety.consumers import NotificationsConsumer

# django-stubs types path() for HTTP views only; Channels routes ASGI consumers with it.
websocket_urlpatterns: list[URLPattern] = [
    path("ws/notifications/", NotificationsConsumer.as_asgi(), name="notifications"),  # type: ignore[arg-type]
]
