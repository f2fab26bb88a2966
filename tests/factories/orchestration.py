"""Runs and steps made directly as rows (no engine): for pages, lists and access tests."""

from __future__ import annotations

import factory

from orchestration.models import Execution, ExecutionStep
from tests.factories.tenancy import UserFactory, WorkspaceFactory


class ExecutionFactory(factory.django.DjangoModelFactory[Execution]):
    class Meta:
        model = Execution

    workspace = factory.SubFactory(WorkspaceFactory)
    user = factory.SubFactory(UserFactory)
    request = factory.Sequence(lambda n: f"Summarise the sales files, batch {n}")


class ExecutionStepFactory(factory.django.DjangoModelFactory[ExecutionStep]):
    class Meta:
        model = ExecutionStep

    execution = factory.SubFactory(ExecutionFactory)
    step_number = factory.Sequence(lambda n: n + 1)
    agent_id = "drive"
