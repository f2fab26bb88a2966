"""Metrics: named values at a moment, with tags, as rows of the `metrics` table.

    record("step.duration_ms", 412, tool="drive.read", agent="drive")

Tags go through the same redaction as span metadata. The engine's per-step
values go through `record_buffered` (written in batches, see batching.py). `summary` computes its
figures in Python: the dashboards ask for one metric over a recent window,
which is a few thousand floats at most, and this keeps SQLite and
PostgreSQL answering alike.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, TypedDict

from django.utils import timezone

from monitoring import hooks
from monitoring.batching import Batch
from monitoring.models import Metric
from monitoring.tracing import clean_metadata
from persistence.sql import insert_rows


class Summary(TypedDict):
    count: int
    mean: float | None
    p50: float | None
    p95: float | None
    max: float | None


def record(name: str, value: float, **tags: Any) -> Metric:
    """Store one value of metric `name`, measured now."""
    row = Metric.objects.create(
        metric_name=name[:100], metric_value=float(value), tags=clean_metadata(tags), timestamp=timezone.now()
    )
    hooks.metrics_recorded([row])
    return row


def record_many(values: Iterable[tuple[str, float, Mapping[str, Any]]]) -> list[Metric]:
    """Store several values in one insert, all stamped with the same moment (e.g. a run's totals)."""
    now = timezone.now()
    rows = [
        Metric(metric_name=name[:100], metric_value=float(value), tags=clean_metadata(tags), timestamp=now)
        for name, value, tags in values
    ]
    if not rows:
        return []
    stored = Metric.objects.bulk_create(rows)
    hooks.metrics_recorded(stored)
    return stored


def _write_buffered(values: list[tuple[str, float, Mapping[str, Any], datetime]]) -> None:
    rows = [
        {"metric_name": name[:100], "metric_value": float(value), "tags": clean_metadata(tags), "timestamp": at}
        for name, value, tags, at in values
    ]
    insert_rows(Metric, rows)
    hooks.metrics_recorded([Metric(**row) for row in rows])


_buffered: Batch[tuple[str, float, Mapping[str, Any], datetime]] = Batch("metric values", _write_buffered)


def record_buffered(values: Iterable[tuple[str, float, Mapping[str, Any]]]) -> None:
    """Like `record_many`, but written with the process's next telemetry batch (the engine's hot path)."""
    now = timezone.now()
    _buffered.add(*((name, value, tags, now) for name, value, tags in values))


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending, non-empty list: always a value that was measured."""
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summary(name: str, since: datetime | None = None) -> Summary:
    """Count, mean, median, 95th percentile and maximum of metric `name` (since a moment, if given)."""
    rows = Metric.objects.filter(metric_name=name)
    if since is not None:
        rows = rows.filter(timestamp__gte=since)
    values = sorted(rows.values_list("metric_value", flat=True))
    if not values:
        return {"count": 0, "mean": None, "p50": None, "p95": None, "max": None}
    return {
        "count": len(values),
        "mean": math.fsum(values) / len(values),
        "p50": percentile(values, 0.5),
        "p95": percentile(values, 0.95),
        "max": values[-1],
    }
