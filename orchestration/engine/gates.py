"""The safety gates a step passes before its tool runs.

In order: a person's approval for critical actions, the locks on the
resources the call touches, and the rate limit of its integration.
An approval binds the exact action (`safety.approvals.BoundAction`): the
resolved input and the bytes of the drive files it reads, which are frozen
(`tools.frozen`) so the approved call uses exactly what the person saw. A step
that must wait is parked, not failed: it releases its claim, says what it
waits for, and is woken by the decision, or retried when the lock or the
next rate window may be free.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from orchestration.engine.dispatch import enqueue_steps
from orchestration.models import Execution, ExecutionStatus, ExecutionStep, StepStatus
from orchestration.publishing import publish_approval, publish_execution, publish_step
from safety import locks, rate_limits
from safety.approvals import BoundAction, BoundFile, outcome_message, request_approval
from safety.models import ApprovalStatus
from tools.base import Tool, ToolCall, ToolInputError
from tools.drive import DriveError
from tools.frozen import freeze

logger = logging.getLogger(__name__)

LOCK_RETRY_SECONDS = 1.0
# The files a person approves are read and frozen whole; past this they are refused before being read.
MAX_BOUND_BYTES = 32 * 2**20


class Refused(Exception):
    """A person rejected the action, or nobody decided in time."""


def lock_holder(step: ExecutionStep) -> str:
    return f"step:{step.pk}"


def pass_gates(step: ExecutionStep, tool: Tool, call: ToolCall, worker: str) -> list[str] | None:
    """The resources locked for the call when the step may run now; None when it was parked."""
    reason = tool.approval_reason(call.input)
    if reason:
        action = bind_action(tool, call)
        approval, superseded = request_approval(
            execution_id=step.execution_id,
            step_id=step.pk,
            action=action,
            reason=reason,
            estimated_impact=tool.estimate_impact(call.input),
        )
        for old in superseded:
            logger.warning(
                "Step %d: the action changed since approval was %s; asking again",
                step.step_number,
                "given" if old.resolved_by_id else "asked",
                extra={"execution_id": str(step.execution_id), "step_number": step.step_number},
            )
            publish_approval(old.pk)
        if approval.status == ApprovalStatus.PENDING:
            _park(step, worker, StepStatus.WAITING_APPROVAL, f"approval by a person: {reason}")
            publish_approval(approval.pk)
            return None
        if approval.status != ApprovalStatus.APPROVED:
            raise Refused(outcome_message(approval))
        call.approved_files = action.file_hashes
    resources = tool.resources(call.input, call.workspace_id)
    if resources:
        refused = locks.acquire(resources, lock_holder(step), settings.ORCHESTRATE_LEASE_SECONDS)
        if refused is not None:
            _park(
                step,
                worker,
                StepStatus.PENDING,
                f"lock on {refused.resource_id} (held by {refused.held_by})",
                retry_in=LOCK_RETRY_SECONDS,
            )
            return None
    if tool.rate_limit:
        decision = rate_limits.take(step.execution.workspace, *tool.rate_limit)
        if not decision.allowed:
            locks.release(resources, lock_holder(step))
            bucket = ".".join(tool.rate_limit)
            _park(step, worker, StepStatus.THROTTLED, decision.describe(bucket), retry_in=decision.retry_after + 0.05)
            return None
    return resources


def bind_action(tool: Tool, call: ToolCall) -> BoundAction:
    """The exact action the call would take now, with the drive files it reads frozen."""
    files = []
    drive = call.drive
    names = tool.referenced_files(call.input)
    try:
        total = sum(drive.stat(name).size for name in names)
    except (DriveError, OSError):
        missing = ", ".join(name for name in names if not drive.exists(name))
        raise ToolInputError(f"File not found in the drive: {missing}. Nothing was done.") from None
    if total > MAX_BOUND_BYTES:
        raise ToolInputError(f"The files are larger than {MAX_BOUND_BYTES // 2**20} MB in total. Nothing was done.")
    for name in names:
        try:
            data = drive.read_bytes(name)
        except DriveError:
            raise ToolInputError(f"File not found in the drive: {name}. Nothing was done.") from None
        files.append(BoundFile(name=name, sha256=freeze(call.workspace_id, data), bytes=len(data)))
    return BoundAction(action_type=tool.name, tool_input=call.input, files=tuple(files))


def _park(step: ExecutionStep, worker: str, status: str, waiting_for: str, retry_in: float | None = None) -> None:
    """Give the claim back without counting an attempt; say what the step waits for."""
    retry_at = timezone.now() + timedelta(seconds=retry_in) if retry_in is not None else None
    with transaction.atomic():
        parked = ExecutionStep.objects.filter(pk=step.pk, status=StepStatus.RUNNING, claimed_by=worker).update(
            status=status,
            waiting_for=waiting_for[:200],
            claimed_by="",
            lease_expires_at=None,
            started_at=None,
            attempts=F("attempts") - 1,
            retry_at=retry_at,
        )
        if not parked:
            return
        if status == StepStatus.WAITING_APPROVAL:
            Execution.objects.filter(pk=step.execution_id, status=ExecutionStatus.RUNNING).update(
                status=ExecutionStatus.WAITING_APPROVAL, updated_at=timezone.now()
            )
        if retry_in is not None:
            enqueue_steps([step.pk], delay=retry_in)
    logger.info(
        "Step %d waits for %s",
        step.step_number,
        waiting_for,
        extra={"execution_id": str(step.execution_id), "step_number": step.step_number},
    )
    publish_step(step.pk)
    publish_execution(step.execution_id)
