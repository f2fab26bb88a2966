"""Websocket routes of the safety app."""

from __future__ import annotations

from django.urls import URLPattern, path

from safety.consumers import NotificationsConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/notifications/", NotificationsConsumer.as_asgi(), name="notifications"),
]
