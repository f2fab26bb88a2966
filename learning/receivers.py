"""What learning does when a run ends: keep its feedback row (connected in LearningConfig.ready())."""

from __future__ import annotations

from typing import Any

from learning.models import ExecutionFeedback
from orchestration.signals import FinishedRun


def record_feedback(sender: Any, run: FinishedRun, **kwargs: Any) -> None:
    ExecutionFeedback.objects.update_or_create(
        execution_id=run.execution_id,
        defaults={
            "success": run.succeeded,
            "duration_ms": run.duration_ms,
            "tokens_used": run.tokens_used,
            "steps_count": run.steps_count,
            "error_count": run.error_count,
            "patterns": [" -> ".join(run.agents)],
        },
    )
