"""Approval requests made directly as rows: nothing waits on them, so deciding one only records the decision."""

from __future__ import annotations

import factory

from safety.models import PendingApproval
from tests.factories.orchestration import ExecutionFactory


class PendingApprovalFactory(factory.django.DjangoModelFactory[PendingApproval]):
    class Meta:
        model = PendingApproval

    execution = factory.SubFactory(ExecutionFactory)
    action_type = "email.send"
    reason = "Sends an e-mail outside the company"
