"""A run as a whole: submit it, plan it, start it, cancel it, resume it (its end: ending.py)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy

from monitoring.models import Trace
from monitoring.tracing import Span, root_span_id, start_span
from orchestration.engine.checkpointing import checkpoint_planned
from orchestration.engine.dispatch import enqueue_plan, enqueue_steps, queued_stamp, send_steps
from orchestration.engine.ending import on_finished
from orchestration.models import Execution, ExecutionStatus, ExecutionStep, StepStatus
from orchestration.planning import NeedsAnswer, NoToolForRequest, PlanInvalid, make_plan
from orchestration.planning.schema import validate_plan
from orchestration.publishing import publish_execution, publish_first
from orchestration.questions import ask, planning_inputs
from persistence.sql import insert_rows
from plugins import hooks as plugin_hooks
from plugins.contract import Refuse
from plugins.hooks import record_error as record_plugin_error
from safety.models import ApprovalStatus, PendingApproval
from safety.secrets import seal_plan
from tenancy.access import may
from tenancy.models import Workspace
from tenancy.roles import Action
from versioning.models import PlanVersion

logger = logging.getLogger(__name__)

ACTIVE_RUNS = (
    ExecutionStatus.PENDING,
    ExecutionStatus.PLANNING,
    ExecutionStatus.RUNNING,
    ExecutionStatus.WAITING_APPROVAL,
    ExecutionStatus.WAITING_INPUT,
    ExecutionStatus.PLANNED,
)


def submit(
    *,
    user: Any,
    workspace: Workspace,
    request_text: str,
    plan: dict[str, Any] | None = None,
    plan_only: bool = False,
) -> Execution:
    """Create a pending run of the request and hand it to the planner.

    A caller that already has a plan (a webhook, a saved template, a test)
    passes it; it is validated here, so a bad plan is refused before a run exists.
    With `plan_only` the run stops once planned (status `planned`) until
    `run_planned()` starts it: the person sees the plan first.
    """
    text = request_text.strip()
    if not text:
        raise ValueError("Type a request to run.")
    if not may(user, Action.RUN, workspace):
        raise PermissionDenied(gettext_lazy("You may not run requests in %(name)s.") % {"name": workspace.name})
    _ask_plugins(user, workspace, text)
    # Secrets typed into the plan are sealed before anything stores it.
    given = (
        seal_plan(validate_plan(plan, planner="given", workspace=workspace), workspace_id=workspace.pk)
        if plan is not None
        else None
    )
    sent: list[bool] = []
    with transaction.atomic():
        execution = Execution.objects.create(
            user=user, workspace=workspace, request=text, plan=given, plan_only=plan_only
        )
        publish_first(execution.pk, written=execution)
        enqueue_plan(execution.pk, then=sent.append)
    # The run is saved either way; when the workers' broker is down, the sweeper sends it once it is back.
    execution.dispatched = all(sent)
    logger.info("Submitted by %s", user, extra={"execution_id": str(execution.pk)})
    return execution


class RequestRefused(ValueError):
    """A plugin's request_submitted hook refused the request; the message says why."""


def _ask_plugins(user: Any, workspace: Workspace, text: str) -> None:
    if not plugin_hooks.handles("request_submitted"):
        return
    data = {"request": text, "user_id": user.pk, "username": user.get_username()}
    for answer in plugin_hooks.call("request_submitted", workspace_id=workspace.pk, data=data):
        if isinstance(answer.value, Refuse):
            raise RequestRefused(f"Refused by {answer.plugin}: {answer.value.reason}")
        if answer.error and settings.ORCHESTRATE_PLUGIN_REFUSE_ON_ERROR:
            raise RequestRefused(f"Refused: the {answer.plugin} plugin could not check the request.")


def _amend_plan(execution: Execution, plan: dict[str, Any]) -> dict[str, Any] | None:
    """The plan as plugins amended it (validated again), or None when none changed it."""
    if not plugin_hooks.handles("plan_made"):
        return None
    amended = None
    for answer in plugin_hooks.call(
        "plan_made", workspace_id=execution.workspace_id, execution_id=execution.pk, data={"plan": plan}
    ):
        if not isinstance(answer.value, dict):
            continue
        try:
            candidate = validate_plan(answer.value, planner=plan["planner"], workspace=execution.workspace_id)
        except PlanInvalid as exc:
            logger.error("Plugin %s amended the plan wrongly, amendment ignored: %s", answer.plugin, exc)
            record_plugin_error(answer.plugin, f"plan_made: the amended plan is invalid: {exc}")
            continue
        candidate["amended_by"] = [*(amended or plan).get("amended_by", []), answer.plugin]
        amended = plan = candidate
    return amended


def plan_execution(execution_id: str) -> None:
    """Plan a pending run and start its first steps; a run is planned once.

    What it writes, it writes once and reads nothing back: the steps' ids and
    the first steps' queue stamps go in with their insert, the plan span in
    the process's telemetry batch, the starting checkpoint from the plan.
    """
    if not Execution.objects.filter(pk=execution_id, status=ExecutionStatus.PENDING).update(
        status=ExecutionStatus.PLANNING, updated_at=timezone.now()
    ):
        return
    execution = Execution.objects.get(pk=execution_id)
    publish_execution(execution_id)
    root = root_span_id(execution_id)
    if not Trace.objects.filter(pk=root).exists():  # planning restarted after a crash: the run keeps its root
        start_span("execution", execution_id=execution_id, metadata={"request": execution.request[:500]}, span_id=root)
    planning = Span.begin("plan", execution_id=execution_id, parent_id=root)
    try:
        plan = seal_plan(
            execution.plan
            or make_plan(
                execution.request,
                execution_id=execution_id,
                workspace=execution.workspace_id,
                **planning_inputs(execution),
            ),
            workspace_id=execution.workspace_id,
        )
        planning.end_in_batch(metadata={"planner": plan["planner"], "steps": len(plan["steps"])})
        amended = _amend_plan(execution, plan)
        if amended is not None:
            amended = seal_plan(amended, workspace_id=execution.workspace_id)
    except NeedsAnswer as needs:
        # The run's root span stays open: planning starts again under it once the person answers.
        planning.end_in_batch(metadata={"question": needs.field})
        ask(execution_id, needs)
        return
    except (NoToolForRequest, PlanInvalid) as exc:
        planning.end_in_batch(status="error", metadata={"error": str(exc)})
        _fail_unplanned(execution_id, str(exc))
        return
    versions = [PlanVersion(plan=execution, version=1, plan_data=plan, metadata={"source": plan["planner"]})]
    if amended is not None:
        versions.append(
            PlanVersion(
                plan=execution,
                version=2,
                plan_data=amended,
                metadata={"source": "plugins", "plugins": amended["amended_by"]},
            )
        )
        plan = amended
    status = ExecutionStatus.PLANNED if execution.plan_only else ExecutionStatus.RUNNING
    with transaction.atomic():
        # First, so that a run cancelled while it was planned gets no steps (and its row is held
        # for the checkpoint's number).
        if not Execution.objects.filter(pk=execution_id, status=ExecutionStatus.PLANNING).update(
            plan=plan, total_steps=len(plan["steps"]), status=status, updated_at=timezone.now()
        ):
            return
        PlanVersion.objects.bulk_create(versions, ignore_conflicts=True)
        first = _create_steps(execution, plan["steps"], queued_at=None if execution.plan_only else queued_stamp())
        publish_first(execution_id)
        if not execution.plan_only:
            send_steps(list(first), tools=first)
        # In the planning transaction: numbered before any step's end, since no step can start before it commits.
        checkpoint_planned(execution_id, status=status, steps=plan["steps"])


def run_planned(execution: Execution, user: Any) -> bool:
    """Start a run planned with "Plan only", exactly as planned; False if it was not waiting to start."""
    if not may(user, Action.RUN, str(execution.workspace_id)):
        raise PermissionDenied(
            gettext_lazy("You may not run requests in %(name)s.") % {"name": execution.workspace.name}
        )
    with transaction.atomic():
        if not Execution.objects.filter(pk=execution.pk, status=ExecutionStatus.PLANNED).update(
            status=ExecutionStatus.RUNNING, updated_at=timezone.now()
        ):
            return False
        publish_first(execution.pk)
        ready = ExecutionStep.objects.filter(
            execution_id=execution.pk, remaining_deps=0, status=StepStatus.PENDING
        ).values_list("pk", flat=True)
        enqueue_steps(list(ready))
    logger.info("Started by %s after the plan preview", user, extra={"execution_id": str(execution.pk)})
    return True


def replace_planned_steps(execution: Execution, plan: dict[str, Any]) -> bool:
    """Give a run planned with "Plan only" an edited (validated) plan before it starts; False once it started."""
    with transaction.atomic():
        if not Execution.objects.filter(pk=execution.pk, status=ExecutionStatus.PLANNED).update(
            plan=plan, total_steps=len(plan["steps"]), updated_at=timezone.now()
        ):
            return False
        ExecutionStep.objects.filter(execution=execution).delete()
        _create_steps(execution, plan["steps"])
    publish_execution(execution.pk)
    return True


def _create_steps(
    execution: Execution, planned: list[dict[str, Any]], *, queued_at: datetime | None = None
) -> dict[uuid.UUID, str]:
    """Insert the plan's steps, those that wait for none stamped as queued at `queued_at`; those (id: tool)."""
    dependents: dict[int, list[int]] = {step["number"]: [] for step in planned}
    for step in planned:
        for dependency in step["depends_on"]:
            dependents[dependency].append(step["number"])
    rows = [
        {
            "id": uuid.uuid4(),
            "execution_id": execution.pk,
            "step_number": step["number"],
            "agent_id": step["agent"],
            "tool": step["tool"],
            "input": step["input"],
            "depends_on": step["depends_on"],
            "dependents": dependents[step["number"]],
            "remaining_deps": len(step["depends_on"]),
            "optional": step["optional"],
            "timeout_seconds": step.get("timeout_seconds"),
            "max_attempts": step.get("max_attempts", settings.ORCHESTRATE_MAX_ATTEMPTS),
            "queued_at": None if step["depends_on"] else queued_at,
        }
        for step in planned
    ]
    insert_rows(ExecutionStep, rows)
    return {row["id"]: row["tool"] for row in rows if not row["remaining_deps"]}


def _fail_unplanned(execution_id: str, error: str) -> None:
    logger.warning("Planning failed: %s", error, extra={"execution_id": execution_id})
    Execution.objects.filter(pk=execution_id, status=ExecutionStatus.PLANNING).update(
        status=ExecutionStatus.FAILED, error=error, completed_at=timezone.now(), updated_at=timezone.now()
    )
    on_finished(execution_id)


def skip_steps(execution_id: uuid.UUID | str, numbers: Iterable[int] | None, reason: str) -> int:
    """Mark unfinished, not-running steps skipped (all of them when numbers is None)."""
    queryset = ExecutionStep.objects.filter(
        execution_id=execution_id, status__in=[StepStatus.PENDING, StepStatus.THROTTLED, StepStatus.WAITING_APPROVAL]
    )
    if numbers is not None:
        queryset = queryset.filter(step_number__in=list(numbers))
    now = timezone.now()
    skipped = queryset.update(status=StepStatus.SKIPPED, error=reason, completed_at=now, waiting_for="")
    if skipped:
        Execution.objects.filter(pk=execution_id).update(current_step=F("current_step") + skipped, updated_at=now)
    return skipped


def cancel(execution: Execution, user: Any) -> bool:
    """Stop a run: nothing new starts, running tools are told to stop. False if it had ended."""
    if not may(user, Action.CANCEL, execution.workspace_id):
        raise PermissionDenied(gettext_lazy("You may not cancel runs in this workspace."))
    now = timezone.now()
    with transaction.atomic():
        if not Execution.objects.filter(pk=execution.pk, status__in=ACTIVE_RUNS).update(
            status=ExecutionStatus.CANCELLED, completed_at=now, updated_at=now, error=f"Cancelled by {user}."
        ):
            return False
        skip_steps(execution.pk, None, f"Cancelled by {user}.")
        # Nobody needs to decide on the actions of a run that stopped.
        PendingApproval.objects.filter(execution=execution, status=ApprovalStatus.PENDING).update(
            status=ApprovalStatus.EXPIRED, resolved_at=now, comment="The run was cancelled."
        )
    logger.info("Cancelled by %s", user, extra={"execution_id": str(execution.pk)})
    on_finished(str(execution.pk))
    return True


def resume_run(execution: Execution, user: Any) -> int:
    """Run a failed or cancelled run again from where it stopped; the number of steps to run again.

    Steps that succeeded keep their results (and their effects are not
    repeated); every other step runs again, with a fresh approval request
    where one is needed. One way serves "retry the failed step" and "resume".
    """
    if not may(user, Action.CANCEL, execution.workspace_id):
        raise PermissionDenied(gettext_lazy("You may not retry or resume runs in this workspace."))
    now = timezone.now()
    with transaction.atomic():
        if not Execution.objects.filter(
            pk=execution.pk, status__in=[ExecutionStatus.FAILED, ExecutionStatus.CANCELLED], total_steps__gt=0
        ).update(status=ExecutionStatus.RUNNING, error="", completed_at=None, result=None, updated_at=now):
            return 0
        steps = list(ExecutionStep.objects.filter(execution=execution))
        succeeded = {step.step_number for step in steps if step.status == StepStatus.SUCCEEDED}
        again = [step for step in steps if step.status != StepStatus.SUCCEEDED]
        PendingApproval.objects.filter(step__in=again).exclude(status=ApprovalStatus.APPROVED).update(step=None)
        for step in again:
            step.status = StepStatus.PENDING
            step.error = step.waiting_for = step.claimed_by = ""
            step.remaining_deps = len(set(step.depends_on) - succeeded)
            step.max_attempts = step.attempts + settings.ORCHESTRATE_MAX_ATTEMPTS
            step.retry_at = step.lease_expires_at = step.completed_at = None
        ExecutionStep.objects.bulk_update(
            again,
            [
                *("status", "error", "waiting_for", "claimed_by", "remaining_deps", "max_attempts"),
                *("retry_at", "lease_expires_at", "completed_at"),
            ],
        )
        Execution.objects.filter(pk=execution.pk).update(current_step=len(succeeded))
        publish_first(execution.pk)
        enqueue_steps([step.pk for step in again if step.remaining_deps == 0])
    start_span("execution (resumed)", execution_id=execution.pk, metadata={"by": str(user), "steps": len(again)})
    logger.info("Resumed by %s: %d steps to run again", user, len(again), extra={"execution_id": str(execution.pk)})
    return len(again)
