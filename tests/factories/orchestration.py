from __future__ import annotations

import factory

from orchestration.models import Execution, ExecutionStep
from tests.factories.tenancy import UserFactory, WorkspaceFactory


class ExecutionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Execution

    workspace = factory.SubFactory(WorkspaceFactory)
    user = factory.SubFactory(UserFactory)
    request = factory.Sequence(lambda n: f"Summarise the sales files, batch {n}")


class ExecutionStepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExecutionStep

    execution = factory.SubFactory(ExecutionFactory)
    step_number = factory.Sequence(lambda n: n + 1)
    agent_id = "drive"
