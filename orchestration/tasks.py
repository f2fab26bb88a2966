"""Celery tasks of the distributed run mode: thin wrappers over the engine.

Late acknowledgement and reject-on-worker-lost (settings) mean a message is
only gone once its task returned; the step's own claim makes a repeated
message harmless.
"""

from __future__ import annotations

from celery import shared_task

from orchestration.engine import recovery, runs, steps


@shared_task(name="orchestration.plan_execution")
def plan_execution(execution_id: str) -> None:
    runs.plan_execution(execution_id)


@shared_task(name="orchestration.run_step")
def run_step(step_id: str) -> None:
    steps.run_step(step_id)


@shared_task(name="orchestration.sweep", ignore_result=True)
def sweep() -> None:
    recovery.sweep()
