"""Progress events: every state change of a run or a step, published once.

A run's and an approval's events go to two Channels groups, the execution's
and the workspace's, so a page about one run and a page about the whole
workspace both hear them; a step's event goes to the execution's group only,
as no workspace page shows steps.
Payloads are typed and tagged by `type`, which Channels maps to a consumer
method (`step.updated` -> `step_updated`). What they are and where they go
is here; sending them is orchestration/publishing.py.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Literal, TypedDict

from config.consumers import user_group
from orchestration.models import Execution, ExecutionStep

logger = logging.getLogger(__name__)


class ExecutionEvent(TypedDict):
    type: Literal["execution.updated"]
    execution_id: str
    workspace_id: str
    status: str
    current_step: int
    total_steps: int
    error: str


class StepEvent(TypedDict, total=False):
    type: Literal["step.updated"]
    execution_id: str
    workspace_id: str
    step_number: int
    agent: str
    tool: str
    status: str
    waiting_for: str
    cached: bool
    attempts: int
    duration_ms: int | None
    tokens_used: int
    error: str
    depends_on: list[int]
    optional: bool
    input: object
    output: object
    # The run's counts after the step ended (absent when the step did not end).
    run_status: str
    current_step: int
    total_steps: int


@dataclass
class RunCounts:
    """The run's status and counts as the statement that counted a step returned them."""

    status: str
    current_step: int
    total_steps: int
    error: str

    def as_state(self) -> dict[str, object]:
        return {"status": self.status, "current_step": self.current_step, "total_steps": self.total_steps}


class ApprovalEvent(TypedDict):
    type: Literal["approval.updated"]
    approval_id: str
    execution_id: str
    workspace_id: str
    step_number: int | None
    action_type: str
    status: str


ProgressEvent = ExecutionEvent | StepEvent | ApprovalEvent


def execution_group(execution_id: object) -> str:
    return f"execution.{execution_id}"


def workspace_group(workspace_id: object) -> str:
    return f"workspace.{workspace_id}"


def execution_event(execution: Execution) -> ExecutionEvent:
    return {
        "type": "execution.updated",
        "execution_id": str(execution.pk),
        "workspace_id": str(execution.workspace_id),
        "status": execution.status,
        "current_step": execution.current_step,
        "total_steps": execution.total_steps,
        "error": execution.error,
    }


def _plain(value: object) -> object:
    """JSON types only, as stored: an event may travel through Redis (msgpack), which knows no others."""
    if _is_plain(value):
        return value
    return json.loads(json.dumps(value, default=str))


def _is_plain(value: object) -> bool:
    # Most steps' inputs and outputs are: then they need no copy through JSON text.
    if value is None or isinstance(value, str | int | float | bool):
        return True
    if isinstance(value, list):
        return all(_is_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _is_plain(item) for key, item in value.items())
    return False


def step_event(step: ExecutionStep, workspace_id: object, counts: RunCounts | None = None) -> StepEvent:
    """The event of a step's change, from the step as the worker holds it (nothing is read)."""
    event: StepEvent = {
        "type": "step.updated",
        "execution_id": str(step.execution_id),
        "workspace_id": str(workspace_id),
        "step_number": step.step_number,
        "agent": step.agent_id,
        "tool": step.tool,
        "status": step.status,
        "waiting_for": step.waiting_for,
        "cached": step.cached,
        "attempts": step.attempts,
        "duration_ms": step.duration_ms,
        "tokens_used": step.tokens_used,
        "error": step.error,
        "depends_on": list(step.depends_on or []),
        "optional": step.optional,
        "input": _plain(step.input),
        "output": _plain(step.output),
    }
    if counts is not None:
        event["run_status"] = counts.status
        event["current_step"] = counts.current_step
        event["total_steps"] = counts.total_steps
    return event


class MembershipChanged(TypedDict):
    type: Literal["membership.changed"]
    user_id: int


def groups_of(event: ProgressEvent | MembershipChanged) -> list[str]:
    if event["type"] == "membership.changed":
        return [user_group(event["user_id"])]
    if event["type"] == "step.updated":
        # Only a run's own page shows its steps; the workspace's pages (the list of runs, every
        # page's approvals badge) follow runs and approvals, so a step event is not sent to them.
        return [execution_group(event["execution_id"])]
    return [execution_group(event["execution_id"]), workspace_group(event["workspace_id"])]
