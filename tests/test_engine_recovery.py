"""Recovery: a worker that dies mid-step does not lose the run or repeat its effects.

These tests start real Celery worker and beat processes over Redis against
the test database (SQLite or PostgreSQL, whichever the pass uses), and kill
them with SIGKILL.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from orchestration.engine.checkpointing import checkpoint_run
from orchestration.engine.recovery import sweep
from orchestration.engine.runs import submit
from orchestration.models import ExecutionStatus, ExecutionStep, StepStatus
from persistence.models import ExecutionCheckpoint
from tests.support.engine import CeleryProcess, use_celery, wait_for, wait_until_idle
from tests.support.polling import eventually
from tests.support.tools import effect_count
from tools.drive import WorkspaceDrive

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

FAST_RECOVERY = {
    "ORCHESTRATE_LEASE_SECONDS": "4",
    "ORCHESTRATE_SWEEP_SECONDS": "1",
    "ORCHESTRATE_CHECKPOINT_SECONDS": "0.5",
}


def _effect_plan(seconds: float) -> dict:
    return {
        "steps": [
            {"number": 1, "tool": "test.effect", "input": {"label": "only-once", "seconds": seconds}},
            {"number": 2, "tool": "test.noop", "input": {"value": {"$step": 1, "path": "label"}}, "depends_on": [1]},
        ]
    }


def _running_step(execution, timeout=30.0) -> ExecutionStep:
    return eventually(
        lambda: ExecutionStep.objects.filter(
            execution=execution, step_number=1, status=StepStatus.RUNNING, claimed_by__gt=""
        ).first(),
        what="step 1 to be running on a worker",
        timeout=timeout,
    )


def _wait_checkpointed_progress(execution, timeout=10.0) -> None:
    def progressed() -> bool:
        # Checkpoints record what changed (O(1) each), so any of them may hold step 1's progress.
        states = ExecutionCheckpoint.objects.filter(execution=execution).values_list("state", flat=True)
        return any((state.get("steps") or {}).get("1", {}).get("progress") for state in states)

    eventually(progressed, what="a checkpoint with step 1's progress", timeout=timeout, interval=0.1)


@pytest.fixture
def processes():
    started: list[CeleryProcess] = []

    def start(kind: str, **env: str) -> CeleryProcess:
        process = CeleryProcess(kind, **{**FAST_RECOVERY, **env})
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def test_it_resumes_a_run_whose_worker_was_killed(alice, workspace_a, settings, processes):
    use_celery(settings)
    doomed = processes("worker", CONCURRENCY="1")
    execution = submit(user=alice, workspace=workspace_a, request_text="crash", plan=_effect_plan(seconds=4))
    _running_step(execution)
    _wait_checkpointed_progress(execution)
    doomed.kill()
    killed_at = time.monotonic()

    survivor = processes("worker", CONCURRENCY="1")
    processes("beat")
    execution = wait_for(execution, timeout=60)

    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    assert time.monotonic() - killed_at < 60
    step = execution.steps.get(step_number=1)
    assert step.attempts == 2
    assert step.output["performed"] is False  # the resumed attempt found the effect already done
    assert step.output["resumed_from"]["slept"] > 0  # and continued from the checkpointed progress
    assert effect_count(WorkspaceDrive(workspace_a.pk)) == 1
    wait_until_idle(survivor)


def test_it_redelivers_a_step_whose_worker_process_died(alice, workspace_a, settings, processes):
    use_celery(settings)
    # No beat here: the step must come back through the broker's redelivery, not the sweeper.
    worker = processes("worker", CONCURRENCY="2", ORCHESTRATE_LEASE_SECONDS="120")
    execution = submit(user=alice, workspace=workspace_a, request_text="child dies", plan=_effect_plan(seconds=2))
    step = _running_step(execution)
    child_pid = int(step.claimed_by.split(":")[1])
    assert child_pid != worker.process.pid
    os.kill(child_pid, signal.SIGKILL)

    execution = wait_for(execution, timeout=45)

    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    step.refresh_from_db()
    assert step.attempts == 2
    assert effect_count(WorkspaceDrive(workspace_a.pk)) == 1
    wait_until_idle(worker)


@pytest.mark.usefixtures("engine")
def test_it_sweeps_an_orphaned_step_back_into_the_run(alice, workspace_a, settings):
    """The sweeper alone (any run mode): an expired lease means the worker is gone."""
    plan = {"steps": [{"number": 1, "tool": "test.effect", "input": {"label": "sweep", "seconds": 0.5}}]}
    execution = submit(user=alice, workspace=workspace_a, request_text="orphan", plan=plan)
    wait_for(execution)
    # Rewind the finished step into the state a dead worker leaves behind.
    ExecutionStep.objects.filter(execution=execution).update(
        status=StepStatus.RUNNING,
        claimed_by="gone-host:1:1",
        lease_expires_at=timezone.now() - timedelta(seconds=1),
        output=None,
    )
    execution.status = ExecutionStatus.RUNNING
    execution.current_step = 0
    execution.save(update_fields=["status", "current_step"])
    checkpoint_run(execution.pk, reason="before crash", progress={1: {"slept": 0.3}})

    report = sweep()

    assert report.resumed_steps == [str(execution.steps.get().pk)]
    execution = wait_for(execution)
    step = execution.steps.get()
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert step.output["resumed_from"] == {"slept": 0.3}
    assert step.output["performed"] is False
    assert effect_count(WorkspaceDrive(workspace_a.pk)) == 1
    assert sweep().resumed_steps == []
