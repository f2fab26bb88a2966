"""What learning does when a run ends (connected in LearningConfig.ready()).

Inside the transaction that ends the run it keeps only the run's feedback
row (one write); everything else, mining patterns and measuring tests, runs
after the commit on learning's own worker (`learning.services.jobs`), never
on a step's path.
"""

from __future__ import annotations

from typing import Any

from learning.models import ExecutionFeedback
from learning.services.jobs import schedule_learning
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
    schedule_learning(run.execution_id)
