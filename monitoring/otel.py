"""OpenTelemetry export over OTLP/HTTP with the official SDK, when OTEL_EXPORTER_OTLP_ENDPOINT is set.

Our own spans (rows of the `traces` table) are handed to the SDK as they end
(the `spans_finished` hook), with identifiers taken from the rows so that a
span in Jaeger, Tempo or Phoenix can be found in the console and back:

- trace id = the execution's UUID (its 128 bits; `executions.id` without
  dashes is the trace id in hex). A span without an execution uses its own
  row's UUID, or its parent's when it has one.
- span id = the low 64 bits of the row's UUID (the last 16 hex digits of
  `traces.id`); the parent's is derived the same way from `parent_span_id`.
  The full row id is kept in the attribute `orchestrate.span_id`.

A run's spans may end in different processes (the root in whichever worker
finished the run); each process exports what it ended, and the receiver
puts the tree together from these ids.

Django requests and Celery tasks are instrumented with the official
instrumentations and exported through the same provider (their trace ids
are their own). Unset, `configure()` returns at once: no SDK objects, no
thread, no per-span cost beyond one empty hook call.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings

from monitoring import hooks

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

    from monitoring.tracing import Span

logger = logging.getLogger(__name__)
SERVICE_NAME = "orchestrate"
_LOW_64 = (1 << 64) - 1

_provider: TracerProvider | None = None
_processor: SpanProcessor | None = None


def trace_id_for(execution_id: uuid.UUID | None, span_id: uuid.UUID, parent_id: uuid.UUID | None) -> int:
    return (execution_id or parent_id or span_id).int


def span_id_for(row_id: uuid.UUID) -> int:
    # Zero is not a valid span id; a UUID4 with its low 64 bits all zero is one in 2**58.
    return (row_id.int & _LOW_64) or 1


def _nanos(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000) * 1000


def _attributes(row: Span) -> dict[str, str | int | float | bool]:
    attributes: dict[str, str | int | float | bool] = {"orchestrate.span_id": str(row.id)}
    if row.execution_id is not None:
        attributes["orchestrate.execution_id"] = str(row.execution_id)
    for key, value in (row.metadata or {}).items():
        name = f"orchestrate.{key}"
        attributes[name] = value if isinstance(value, str | int | float | bool) else str(value)
    return attributes


def export_spans(spans: Sequence[Span]) -> None:
    """Hook listener: hand ended spans to the SDK's batch processor (it exports on its own thread)."""
    if _processor is None:
        return
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

    for row in spans:
        if row.ended_at is None:
            continue
        trace_id = trace_id_for(row.execution_id, row.id, row.parent_id)
        context = SpanContext(trace_id, span_id_for(row.id), is_remote=False, trace_flags=TraceFlags(1))
        parent = (
            SpanContext(trace_id, span_id_for(row.parent_id), is_remote=True, trace_flags=TraceFlags(1))
            if row.parent_id is not None
            else None
        )
        error = row.status == "error"
        readable = ReadableSpan(
            name=row.name,
            context=context,
            parent=parent,
            resource=_provider.resource if _provider is not None else None,
            attributes=_attributes(row),
            kind=SpanKind.INTERNAL,
            status=Status(StatusCode.ERROR if error else StatusCode.OK),
            start_time=_nanos(row.started_at),
            end_time=_nanos(row.ended_at),
        )
        _processor.on_end(readable)


def configure() -> bool:
    """Set up the exporter and the instrumentations once per process; False when not configured."""
    global _provider, _processor
    if not settings.OTEL_EXPORTER_OTLP_ENDPOINT or _provider is not None:
        return _provider is not None
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # The SDK reads OTEL_EXPORTER_OTLP_ENDPOINT (and headers, timeouts...) itself, adding /v1/traces.
    _provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
    _processor = BatchSpanProcessor(OTLPSpanExporter())
    _provider.add_span_processor(_processor)
    trace.set_tracer_provider(_provider)
    DjangoInstrumentor().instrument(tracer_provider=_provider)
    CeleryInstrumentor().instrument(tracer_provider=_provider)
    hooks.on_spans_finished(export_spans)
    logger.info("Exporting traces over OTLP to %s", settings.OTEL_EXPORTER_OTLP_ENDPOINT)
    return True


def flush(timeout_millis: int = 10_000) -> bool:
    """Export what is queued now (the end of a process, tests)."""
    return _provider.force_flush(timeout_millis) if _provider is not None else True
