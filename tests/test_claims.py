"""A step runs once, however many workers are handed it at the same moment."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from learning.models import PromptVersion
from orchestration.agents import AGENTS
from orchestration.engine.claiming import claim
from orchestration.models import ExecutionStatus, ExecutionStep
from tests.factories.orchestration import ExecutionFactory, ExecutionStepFactory


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
