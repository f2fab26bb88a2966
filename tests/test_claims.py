"""A step runs once, however many workers are handed it at the same moment."""

from __future__ import annotations

import threading
import time
from collections import deque
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from learning.models import PromptVersion
from orchestration.agents import AGENTS
from orchestration.engine import steps
from orchestration.engine.claiming import claim
from orchestration.models import AgentMessage, Execution, ExecutionStatus, ExecutionStep, SharedContext, StepStatus
from persistence.models import ExecutionCheckpoint
from tests.factories.orchestration import ExecutionFactory, ExecutionStepFactory
from tools.base import ToolResult


@pytest.mark.django_db(transaction=True)
def test_it_lets_exactly_one_of_many_workers_claim_a_step():
    execution = ExecutionFactory.create(status=ExecutionStatus.RUNNING, total_steps=1)
    step = ExecutionStepFactory.create(execution=execution, step_number=1, tool="test.noop")
    contenders = 8
    barrier = threading.Barrier(contenders)
    winners: list[str] = []

    def contend(index: int) -> None:
        try:
            barrier.wait()
            if claim(str(step.pk), f"worker-{index}") is not None:
                winners.append(f"worker-{index}")
        finally:
            connection.close()

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(winners) == 1
    step.refresh_from_db()
    assert step.claimed_by == winners[0]
    assert step.attempts == 1


@pytest.mark.django_db
def test_it_does_not_claim_a_step_of_a_run_that_is_not_running():
    step = ExecutionStepFactory.create(
        execution=ExecutionFactory.create(status=ExecutionStatus.CANCELLED), tool="test.noop"
    )
    assert claim(str(step.pk), "w") is None
    assert ExecutionStep.objects.get(pk=step.pk).status == "pending"


@pytest.mark.django_db
def test_it_gives_every_agent_a_first_prompt_version():
    assert set(PromptVersion.objects.filter(version=1).values_list("agent_id", flat=True)) >= set(AGENTS)


@pytest.mark.django_db(transaction=True)
def test_it_discards_the_finish_of_a_step_another_worker_took_over_meanwhile():
    execution = ExecutionFactory.create(status=ExecutionStatus.RUNNING, total_steps=2)
    first = ExecutionStepFactory.create(execution=execution, step_number=1, tool="test.noop", dependents=[2])
    second = ExecutionStepFactory.create(
        execution=execution, step_number=2, tool="test.noop", depends_on=[1], remaining_deps=1
    )
    mine = claim(str(first.pk), "worker-a")
    assert mine is not None
    # Its lease ran out (worker-a seemed gone) and worker-b took the step over.
    ExecutionStep.objects.filter(pk=first.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert claim(str(first.pk), "worker-b") is not None

    outcome = steps.Outcome(ToolResult(output={"value": 1}, shared={"k": "v"}), cached=False)
    assert steps._succeed(mine, outcome, {}, time.monotonic() + 60, deque()) is None

    # Nothing of worker-a's finish stayed: not the step's end, the countdown, the claim of the step
    # after it, the messages, the shared context, the run's count nor the checkpoint.
    first.refresh_from_db()
    assert (first.status, first.claimed_by, first.attempts) == (StepStatus.RUNNING, "worker-b", 2)
    second.refresh_from_db()
    assert (second.status, second.remaining_deps) == (StepStatus.PENDING, 1)
    assert not AgentMessage.objects.filter(execution=execution).exists()
    assert not SharedContext.objects.filter(execution=execution).exists()
    assert Execution.objects.get(pk=execution.pk).current_step == 0
    assert not ExecutionCheckpoint.objects.filter(execution=execution).exists()
