from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PluginsConfig(AppConfig):
    name = "plugins"
    verbose_name = "Plugins"

    def ready(self) -> None:
        # The registry itself is filled in ToolsConfig.ready(): plugins contribute tools.
        from orchestration.signals import run_finished
        from plugins import receivers
        from plugins.sync import sync_after_migrate
        from safety.signals import approval_decided, approval_requested

        post_migrate.connect(sync_after_migrate, sender=self, dispatch_uid="plugins.sync_after_migrate")
        run_finished.connect(receivers.run_finished_hook, dispatch_uid="plugins.run_finished")
        approval_requested.connect(receivers.approval_requested_hook, dispatch_uid="plugins.approval_requested")
        approval_decided.connect(receivers.approval_decided_hook, dispatch_uid="plugins.approval_decided")
