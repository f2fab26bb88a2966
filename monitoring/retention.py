"""Retention: delete logs, metrics, traces and webhook history older than the window, and old rollups.

Rows go in batches of primary keys, each batch its own short transaction, so
pruning a large backlog never holds a table's locks for long and the engine
keeps writing meanwhile. "Older than the window" is strict: a row stamped
exactly at `now - days` stays.

Traces form trees (a step's span has the run's span as parent); a span is
deleted with its descendants, as the foreign key says, so a tree never loses
its root while keeping branches.

The dashboard's hourly rollups are kept for the longest dashboard range
(rollups.HORIZON, 31 days) or the window if it is longer; the throttle counts
of hours whose log lines were pruned are cleared, so they agree with the rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from monitoring import rollups
from monitoring.models import Log, Metric, Trace

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    label: str
    model: type[models.Model]
    stamp: str


def targets() -> list[Target]:
    from webhooks.models import WebhookExecution

    return [
        Target("logs", Log, "timestamp"),
        Target("metrics", Metric, "timestamp"),
        Target("traces", Trace, "started_at"),
        Target("webhook_executions", WebhookExecution, "triggered_at"),
    ]


def cutoff(days: int, now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=days)


def prune(
    days: int | None = None, *, now: datetime | None = None, dry_run: bool = False, batch_size: int | None = None
) -> dict[str, int]:
    """Rows older than `days` (default ORCHESTRATE_RETENTION_DAYS), per table: deleted, or with
    `dry_run` counted and left alone. A window of 0 days keeps everything."""
    days = settings.ORCHESTRATE_RETENTION_DAYS if days is None else days
    if days < 0:
        raise ValueError("the retention window cannot be negative")
    batch = batch_size or settings.ORCHESTRATE_PRUNE_BATCH
    if batch < 1:
        raise ValueError("the batch size must be at least 1")
    result = {target.label: 0 for target in targets()} | {"metric_rollups": 0}
    if days == 0:
        return result
    before = cutoff(days, now)
    for target in targets():
        old = target.model._base_manager.filter(**{f"{target.stamp}__lt": before})
        if dry_run:
            result[target.label] = old.count()
            continue
        result[target.label] = _delete_in_batches(old, batch)
    # Rollups stay for the longest dashboard range even when the window is shorter.
    horizon = min(before, (now or timezone.now()) - rollups.HORIZON)
    if not dry_run:
        rollups.logs_pruned(before)
    result["metric_rollups"] = rollups.forget_before(horizon, dry_run=dry_run)
    if not dry_run and any(result.values()):
        logger.info("Pruned rows older than %s: %s", before.isoformat(), result)
    return result


def _delete_in_batches(old: models.QuerySet[models.Model], batch: int) -> int:
    deleted = 0
    model = old.model
    while True:
        ids = list(old.order_by().values_list("pk", flat=True)[:batch])
        if not ids:
            return deleted
        with transaction.atomic():
            _, per_model = model._base_manager.filter(pk__in=ids).delete()
        deleted += per_model.get(model._meta.label, 0)
