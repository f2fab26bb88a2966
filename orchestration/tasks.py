"""The task table: every kind of work the engine sends, used by both run modes.

`TASKS` maps a kind to the function that does it; `dispatch` sends work by
kind and knows the table only through `dispatch.use_tasks()` (called in
OrchestrationConfig.ready()), so the engine has no import cycle. In the
celery mode each kind is the Celery task of the same name below (thin:
the id in, the function called); in the embedded mode a worker thread calls
the function itself.

Late acknowledgement and reject-on-worker-lost (settings) mean a message is
only gone once its task returned; the step's own claim makes a repeated
message harmless. A task that loses the database or Redis is sent again
within seconds (`infrastructure.retried_when_services_fail`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from celery import Task, shared_task
from celery.signals import worker_process_shutdown

from monitoring.batching import flush_telemetry
from orchestration.engine import recovery, runs, steps
from orchestration.engine.infrastructure import TASK_MAX_RETRIES, release_interrupted, retried_when_services_fail
from orchestration.publishing import send_held_events


def _sweep(sent_before: str = "") -> None:
    # Leader-elected: workers, beat and an embedded server may all ask; one sweeps at a time.
    recovery.sweep_as_leader(sent_before=datetime.fromisoformat(sent_before) if sent_before else None)


TASKS: dict[str, Callable[[str], None]] = {
    "plan": runs.plan_execution,
    "step": steps.run_step,
    "sweep": _sweep,
}


@shared_task(name="orchestration.plan_execution", bind=True, max_retries=TASK_MAX_RETRIES)
def plan_execution(self: Task, execution_id: str) -> None:
    with retried_when_services_fail(self, execution_id=execution_id):
        TASKS["plan"](execution_id)


@shared_task(name="orchestration.run_step", bind=True, max_retries=TASK_MAX_RETRIES)
def run_step(self: Task, step_id: str, interrupted: list[str | int] | None = None) -> None:
    # step_id: a step's id, or several separated by spaces (a batch of quick steps, dispatch.send_steps).
    # (Named so for the messages and retries already in flight.)
    with retried_when_services_fail(self, step_id=step_id, interrupted=interrupted):
        release_interrupted(step_id, interrupted)
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
    """A worker child that exits normally writes the spans and metrics it still buffers, sends its held events."""
    flush_telemetry()
    send_held_events()
