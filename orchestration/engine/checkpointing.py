"""What a checkpoint of a run holds: every step's state and the shared context."""

from __future__ import annotations

from typing import Any

from orchestration.models import Execution, ExecutionStep, SharedContext
from persistence.checkpoints import latest_checkpoint, write_checkpoint


def checkpoint_run(execution_id: object, *, reason: str, progress: dict[int, Any] | None = None) -> None:
    execution = Execution.objects.filter(pk=execution_id).values("status", "current_step", "total_steps").first()
    if execution is None:
        return
    progress = progress or {}
    previous = latest_checkpoint(execution_id)
    previous_steps = previous.state.get("steps", {}) if previous else {}
    steps: dict[str, dict[str, Any]] = {}
    for number, status, attempts, cached in ExecutionStep.objects.filter(execution_id=execution_id).values_list(
        "step_number", "status", "attempts", "cached"
    ):
        entry: dict[str, Any] = {"status": status, "attempts": attempts, "cached": cached}
        # Keep a running step's last reported progress until it reports again or finishes.
        if number in progress:
            entry["progress"] = progress[number]
        elif status == "running" and "progress" in previous_steps.get(str(number), {}):
            entry["progress"] = previous_steps[str(number)]["progress"]
        steps[str(number)] = entry
    context = dict(SharedContext.objects.filter(execution_id=execution_id).values_list("key", "value"))
    write_checkpoint(execution_id, state={"reason": reason, **execution, "steps": steps}, context=context)
