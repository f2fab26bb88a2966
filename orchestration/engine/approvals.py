"""Waking a step when a person decided on it (or nobody did in time).

Connected to `safety.signals.approval_decided` in OrchestrationConfig.ready().
The step goes back to pending whatever the decision; when it runs again it
reads the decision and goes on, fails, or is skipped.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from orchestration.engine.dispatch import enqueue_steps
from orchestration.models import Execution, ExecutionStatus, ExecutionStep, StepStatus
from orchestration.publishing import publish_approval, publish_first
from safety.models import PendingApproval


def wake_step(sender: Any, approval: PendingApproval, **kwargs: Any) -> None:
    publish_approval(approval.pk)
    if approval.step_id is None:
        return
    with transaction.atomic():
        if not ExecutionStep.objects.filter(pk=approval.step_id, status=StepStatus.WAITING_APPROVAL).update(
            status=StepStatus.PENDING, waiting_for="", retry_at=None
        ):
            return
        if not ExecutionStep.objects.filter(
            execution_id=approval.execution_id, status=StepStatus.WAITING_APPROVAL
        ).exists():
            Execution.objects.filter(pk=approval.execution_id, status=ExecutionStatus.WAITING_APPROVAL).update(
                status=ExecutionStatus.RUNNING, updated_at=timezone.now()
            )
        publish_first(approval.execution_id, step_id=approval.step_id)
        enqueue_steps([approval.step_id])
