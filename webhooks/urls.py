from __future__ import annotations

from django.urls import path

from webhooks.views import console

app_name = "webhooks"

urlpatterns = [
    path("", console.webhook_list, name="list"),
    path("<uuid:webhook_id>/", console.webhook_detail, name="detail"),
    path("<uuid:webhook_id>/toggle/", console.toggle, name="toggle"),
    path("<uuid:webhook_id>/rotate/", console.rotate, name="rotate"),
    path("<uuid:webhook_id>/test/", console.send_test, name="test"),
    path("<uuid:webhook_id>/delete/", console.delete, name="delete"),
]
