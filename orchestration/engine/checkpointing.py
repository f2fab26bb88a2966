"""What the engine records in checkpoints (see persistence/checkpoints.py for the format).

Each checkpoint records what changed, so its cost does not grow with the
run: the plan's starting state once, then one step's end, a running step's
progress, or the run's end.
"""

from __future__ import annotations

import uuid
from typing import Any

from orchestration.models import Execution, StepStatus
from persistence.checkpoints import insert_checkpoint, write_checkpoint


def step_entry(
    status: str, attempts: int, cached: bool = False, output: Any = None, progress: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A step's line in a checkpoint; the output only as its storage reference, never inline."""
    entry: dict[str, Any] = {"status": status, "attempts": attempts, "cached": cached}
    if isinstance(output, dict) and "$stored" in output:
        entry["output"] = {"$stored": output["$stored"], "bytes": output.get("bytes")}
    if progress is not None:
        entry["progress"] = progress
    return entry


def checkpoint_planned(execution_id: uuid.UUID | str, *, status: str, steps: list[dict[str, Any]]) -> None:
    """Every step's starting state, once, when the run was planned: from the plan, nothing read.

    Called in the planning transaction after it updated the run's row, which
    serialises the writers of the run's checkpoint numbers.
    """
    state = {
        "reason": "planned",
        "status": status,
        "current_step": 0,
        "total_steps": len(steps),
        "steps": {str(step["number"]): step_entry(StepStatus.PENDING, 0) for step in steps},
    }
    insert_checkpoint(execution_id, state=state, context={})


def checkpoint_run(
    execution_id: uuid.UUID | str, *, reason: str, progress: dict[int, dict[str, Any]] | None = None
) -> None:
    """A checkpoint about the run, and about the running steps whose progress is given."""
    steps = {str(number): {"status": "running", "progress": state} for number, state in (progress or {}).items()}
    execution = Execution.objects.filter(pk=execution_id).values("status", "current_step", "total_steps").first()
    if execution is None:
        return
    write_checkpoint(execution_id, state={"reason": reason, **execution, "steps": steps}, context={})
