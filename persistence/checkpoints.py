"""Checkpoints: numbered recovery points of a run.

The engine writes one at every step boundary and, while a step runs, at
least every ORCHESTRATE_CHECKPOINT_SECONDS. A resumed step reads the last
one for the progress its tool reported before its worker died.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max

from persistence.models import ExecutionCheckpoint

_ATTEMPTS = 20


def write_checkpoint(execution_id: object, state: dict[str, Any], context: dict[str, Any]) -> ExecutionCheckpoint:
    """Save the next checkpoint of the run; safe when several workers write at once."""
    for _ in range(_ATTEMPTS):
        last = ExecutionCheckpoint.objects.filter(execution_id=execution_id).aggregate(n=Max("checkpoint_number"))["n"]
        try:
            with transaction.atomic():
                return ExecutionCheckpoint.objects.create(
                    execution_id=execution_id, checkpoint_number=(last or 0) + 1, state=state, context=context
                )
        except IntegrityError:
            continue  # a parallel step took that number; take the next one
    raise RuntimeError(f"Could not write a checkpoint for {execution_id} after {_ATTEMPTS} attempts")


def latest_checkpoint(execution_id: object) -> ExecutionCheckpoint | None:
    return ExecutionCheckpoint.objects.filter(execution_id=execution_id).order_by("-checkpoint_number").first()


def step_progress(checkpoint: ExecutionCheckpoint | None, step_number: int) -> dict[str, Any] | None:
    """The progress a step's tool reported, as of the checkpoint."""
    if checkpoint is None:
        return None
    step = checkpoint.state.get("steps", {}).get(str(step_number), {})
    progress = step.get("progress")
    return progress if isinstance(progress, dict) else None
