"""The end of a run: noticed when its last step is counted, recorded by the apps that keep something of it."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from monitoring.batching import flush_telemetry
from monitoring.log_handler import flush_database_logs
from orchestration.engine.outputs import load_output
from orchestration.models import Execution, ExecutionStatus, ExecutionStep, StepStatus
from orchestration.publishing import publish_execution
from orchestration.signals import FinishedRun, run_finished

logger = logging.getLogger(__name__)

UNFINISHED_STEPS = (StepStatus.PENDING, StepStatus.RUNNING, StepStatus.WAITING_APPROVAL, StepStatus.THROTTLED)


def finish_if_done(execution_id: uuid.UUID | str, counts: tuple[int, int] | None = None) -> None:
    """End the run when no step is left to run: succeeded, or failed by its first failed step.

    `counts`: the run's finished and total steps, when the caller just counted (a step's finish).
    """
    # current_step counts finished steps, so most calls stop at one primary-key read (or none);
    # the read below only confirms the end.
    if counts is None:
        counts = Execution.objects.filter(pk=execution_id).values_list("current_step", "total_steps").first()
    if counts is None or counts[0] < counts[1]:
        return
    # The database picks the few rows the end needs (any step unfinished, the failures, the final
    # steps) in one read: a run's thousand steps are not read into the worker to find them.
    ends = list(
        ExecutionStep.objects.filter(execution_id=execution_id)
        .filter(
            Q(status__in=UNFINISHED_STEPS)
            | Q(status=StepStatus.FAILED, optional=False)
            | Q(status=StepStatus.SUCCEEDED, dependents=[])
        )
        .order_by("step_number")
        .only("execution_id", "step_number", "tool", "status", "optional", "error", "dependents", "output")
    )
    if any(step.status in UNFINISHED_STEPS for step in ends):
        return
    failed = next((step for step in ends if step.status == StepStatus.FAILED and not step.optional), None)
    final = [step for step in ends if step.status == StepStatus.SUCCEEDED and not step.dependents]
    now = timezone.now()
    changes: dict[str, Any] = {"completed_at": now, "updated_at": now, "result": _result(final)}
    if failed:
        changes.update(
            status=ExecutionStatus.FAILED, error=f"Step {failed.step_number} ({failed.tool}) failed: {failed.error}"
        )
    else:
        changes.update(status=ExecutionStatus.SUCCEEDED)
    # This process's buffered spans and metrics land before the run shows as finished.
    flush_telemetry()
    with transaction.atomic():
        if not Execution.objects.filter(
            pk=execution_id, status__in=[ExecutionStatus.RUNNING, ExecutionStatus.WAITING_APPROVAL]
        ).update(**changes):
            return
        _record_finish(str(execution_id))
    _announce_finish(str(execution_id))


def _result(final: list[ExecutionStep]) -> dict[str, Any]:
    """What the run produced: the outputs of its final steps (succeeded, and nothing else consumed them)."""
    return {
        "outputs": {str(step.step_number): step.output for step in final},
        "summary": "; ".join(_summary_of(step) for step in final),
    }


def _summary_of(step: ExecutionStep) -> str:
    output = load_output(step.output, execution_id=step.execution_id, step_number=step.step_number)
    if isinstance(output, dict):
        for key in ("path", "summary", "content"):
            if isinstance(output.get(key), str):
                return f"{step.tool}: {output[key][:300]}"
    return f"{step.tool}: done"


def on_finished(execution_id: str) -> None:
    """Everything that follows the end of a run, whoever ended it."""
    flush_telemetry()
    with transaction.atomic():
        _record_finish(execution_id)
    _announce_finish(execution_id)


def _record_finish(execution_id: str) -> None:
    """Tell the apps that keep something of a finished run (feedback, totals, last checkpoint)."""
    execution = Execution.objects.defer("plan", "result").get(pk=execution_id)
    steps = list(execution.steps.order_by("step_number").values_list("agent_id", "status", "tokens_used"))
    planning_tokens = Execution.objects.filter(pk=execution_id).values_list("plan__tokens_used", flat=True).first()
    completed_at = execution.completed_at or timezone.now()  # set by whatever finished the run
    duration_ms = int((completed_at - execution.created_at).total_seconds() * 1000)
    run = FinishedRun(
        execution_id=execution.pk,
        workspace_id=execution.workspace_id,
        status=execution.status,
        succeeded=execution.status == ExecutionStatus.SUCCEEDED,
        created_at=execution.created_at,
        completed_at=completed_at,
        duration_ms=duration_ms,
        tokens_used=sum(tokens for _, _, tokens in steps) + int(planning_tokens or 0),
        steps_count=len(steps),
        current_step=execution.current_step,
        total_steps=execution.total_steps,
        error_count=sum(1 for _, status, _ in steps if status == StepStatus.FAILED),
        agents=[agent for agent, _, _ in steps],
    )
    run_finished.send(sender=Execution, run=run)
    logger.info("Run %s in %d ms", execution.status, duration_ms, extra={"execution_id": execution_id})


def _announce_finish(execution_id: str) -> None:
    flush_database_logs()
    publish_execution(execution_id)
