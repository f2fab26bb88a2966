"""What persistence does when a run ends: its last checkpoint (connected in PersistenceConfig.ready())."""

from __future__ import annotations

from typing import Any

from orchestration.signals import FinishedRun
from persistence.checkpoints import write_checkpoint


def checkpoint_finished_run(sender: Any, run: FinishedRun, **kwargs: Any) -> None:
    state = {
        "reason": f"run {run.status}",
        "status": run.status,
        "current_step": run.current_step,
        "total_steps": run.total_steps,
        "steps": {},
    }
    write_checkpoint(run.execution_id, state=state, context={})
