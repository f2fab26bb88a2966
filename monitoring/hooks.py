"""Where the telemetry writers tell exporters what they wrote.

`monitoring.tracing` calls `spans_finished` with every batch of spans it has
ended and `monitoring.metrics` calls `metrics_recorded` with every batch of
metric rows it stored. Exporters (Prometheus counters, OpenTelemetry) connect
a listener in `MonitoringConfig.ready()`; the writers import nothing of
them. A listener must be cheap and must not raise: a failing one is logged
and skipped, because telemetry never breaks the work it describes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monitoring.models import Metric
    from monitoring.tracing import Span

logger = logging.getLogger(__name__)

SpanListener = Callable[[Sequence["Span"]], None]
MetricListener = Callable[[Sequence["Metric"]], None]

_span_listeners: list[SpanListener] = []
_metric_listeners: list[MetricListener] = []


def on_spans_finished(listener: SpanListener) -> None:
    if listener not in _span_listeners:
        _span_listeners.append(listener)


def on_metrics_recorded(listener: MetricListener) -> None:
    if listener not in _metric_listeners:
        _metric_listeners.append(listener)


def spans_finished(spans: Sequence[Span]) -> None:
    """Called by the span writer with spans that have just ended (once each)."""
    for listener in _span_listeners:
        try:
            listener(spans)
        except Exception:
            logger.exception("span listener %r failed", listener)


def metrics_recorded(rows: Sequence[Metric]) -> None:
    """Called by the metric writer with rows it has just stored."""
    for listener in _metric_listeners:
        try:
            listener(rows)
        except Exception:
            logger.exception("metric listener %r failed", listener)
