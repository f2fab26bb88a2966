"""Celery tasks of the monitoring app: thin wrappers over its services."""

from __future__ import annotations

from celery import shared_task

from monitoring import retention, rollups


@shared_task(name="monitoring.prune", ignore_result=True)
def prune() -> None:
    retention.prune()
    # Beat runs this hourly: it also rolls up what no telemetry flusher has (a quiet system).
    rollups.roll_due()
