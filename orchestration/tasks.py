"""The task table: every kind of work the engine sends, used by both run modes.

`TASKS` maps a kind to the function that does it; `dispatch` sends work by
kind and knows the table only through `dispatch.use_tasks()` (called in
OrchestrationConfig.ready()), so the engine has no import cycle. In the
celery mode each kind is the Celery task of the same name below (thin:
the id in, the function called); in the embedded mode a worker thread calls
the function itself.

Late acknowledgement and reject-on-worker-lost (settings) mean a message is
only gone once its task returned; the step's own claim makes a repeated
message harmless.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from celery import Task, shared_task
from celery.signals import worker_process_shutdown

from monitoring.batching import flush_telemetry
from orchestration.engine import recovery, runs, steps


def _sweep(sent_before: str = "") -> None:
    recovery.sweep(sent_before=datetime.fromisoformat(sent_before) if sent_before else None)


TASKS: dict[str, Callable[[str], None]] = {
    "plan": runs.plan_execution,
    "step": steps.run_step,
    "sweep": _sweep,
}


@shared_task(name="orchestration.plan_execution")
def plan_execution(execution_id: str) -> None:
    TASKS["plan"](execution_id)


@shared_task(name="orchestration.run_step")
def run_step(step_id: str) -> None:
    TASKS["step"](step_id)


@shared_task(name="orchestration.sweep", ignore_result=True)
def sweep(sent_before: str = "") -> None:
    TASKS["sweep"](sent_before)


CELERY_TASKS: dict[str, Task] = {"plan": plan_execution, "step": run_step, "sweep": sweep}


class CeleryTransport:
    """Work sent in the celery mode is a message for the Celery task of its kind."""

    def send(self, kind: str, argument: str, delay: float) -> None:
        task = CELERY_TASKS[kind]
        arguments = (argument,) if argument else ()
        if delay:
            task.apply_async(args=arguments, countdown=delay)
        else:
            task.apply_async(args=arguments)


@worker_process_shutdown.connect
def _flush_on_shutdown(**kwargs: object) -> None:
    """A worker child that exits normally writes the spans and metrics it still buffers."""
    flush_telemetry()
