from __future__ import annotations

from django.apps import AppConfig


class PersistenceConfig(AppConfig):
    name = "persistence"
    verbose_name = "State persistence"

    def ready(self) -> None:
        from orchestration.signals import run_finished
        from persistence.receivers import checkpoint_finished_run

        run_finished.connect(checkpoint_finished_run, dispatch_uid="persistence.checkpoint_finished_run")
