"""What monitoring does when a run ends: close its root span, record its totals.

Connected in MonitoringConfig.ready() to `orchestration.signals.run_finished`.
"""

from __future__ import annotations

from typing import Any

from monitoring.metrics import record_many
from monitoring.models import SpanStatus
from monitoring.tracing import Span, root_span_of
from orchestration.signals import FinishedRun


def close_run_telemetry(sender: Any, run: FinishedRun, **kwargs: Any) -> None:
    root = root_span_of(run.execution_id)
    if root is not None:
        Span.from_trace(root).end(
            status=SpanStatus.OK if run.succeeded else SpanStatus.ERROR, metadata={"status": run.status}
        )
    record_many(
        [
            ("execution.duration_ms", run.duration_ms, {"status": run.status}),
            ("execution.tokens", run.tokens_used, {"status": run.status}),
            ("execution.steps", run.steps_count, {"status": run.status}),
        ]
    )
