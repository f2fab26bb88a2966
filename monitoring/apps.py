from __future__ import annotations

from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        from monitoring.receivers import close_run_telemetry
        from orchestration.signals import run_finished

        run_finished.connect(close_run_telemetry, dispatch_uid="monitoring.close_run_telemetry")
