from __future__ import annotations

from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from orchestration.signals import run_finished
        from webhooks.notify import on_run_finished

        run_finished.connect(on_run_finished, dispatch_uid="webhooks.notify_on_finish")
