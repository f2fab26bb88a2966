"""Runs built for tests through the real engine: the one critical-run builder."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orchestration.engine.runs import submit
from orchestration.models import Execution, ExecutionStatus
from safety.models import PendingApproval
from tests.support.engine import wait_for
from tests.support.polling import eventually

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from tenancy.models import Workspace


def critical_plan(*, label: str = "send", optional: bool = False, secret: bool = False) -> dict[str, Any]:
    """A critical step (`test.critical`, which needs approval) and an ordinary one after it."""
    step_input: dict[str, Any] = {"label": label}
    if secret:
        step_input["api_key"] = "sk-do-not-show"
    critical = {"number": 1, "tool": "test.critical", "input": step_input, "optional": optional}
    return {"steps": [critical, {"number": 2, "tool": "test.noop", "input": {"value": "after"}}]}


def approval_of(execution: Execution, timeout: float = 15.0) -> PendingApproval:
    """The run's approval request, once its critical step has asked."""
    return eventually(
        lambda: PendingApproval.objects.filter(execution=execution).first(),
        what=f"the approval request of run {execution.pk}",
        timeout=timeout,
    )


def critical_run(
    user: User,
    workspace: Workspace,
    *,
    request_text: str = "needs approval",
    label: str = "send",
    optional: bool = False,
    secret: bool = False,
) -> tuple[Execution, PendingApproval]:
    """A run submitted by `user`, parked at its critical step, and the approval it waits for.

    Needs the `engine` fixture (the run goes through the real planner and workers).
    """
    plan = critical_plan(label=label, optional=optional, secret=secret)
    execution = submit(user=user, workspace=workspace, request_text=request_text, plan=plan)
    execution = wait_for(execution, statuses={ExecutionStatus.WAITING_APPROVAL})
    return execution, approval_of(execution)
