from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        from monitoring import batching, hooks, otel, prometheus, rollups
        from monitoring.receivers import close_run_telemetry
        from orchestration.signals import run_finished
        from safety.signals import approval_decided

        run_finished.connect(close_run_telemetry, dispatch_uid="monitoring.close_run_telemetry")
        run_finished.connect(rollups.mark_stale, dispatch_uid="monitoring.rollups_mark_stale")
        if settings.ORCHESTRATE_ROLLUP_SECONDS:
            batching.every(settings.ORCHESTRATE_ROLLUP_SECONDS, rollups.roll_due)
        hooks.on_metrics_recorded(prometheus.observe_metric_rows)
        approval_decided.connect(prometheus.count_approval, dispatch_uid="monitoring.count_approval")
        otel.configure()
