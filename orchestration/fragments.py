"""The pieces of the execution page and of the executions list, rendered on the server.

The same includes build the full page, the htmx response of an action and
every websocket push, so a live update can never show something the page
would not. Pushed pieces carry `hx-swap-oob`; the htmx ws extension swaps
each top-level element of a message into the element with the same id.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from django.template.loader import render_to_string
from django.utils import translation

from monitoring.models import Log
from orchestration.engine.outputs import is_stored
from orchestration.models import Execution, ExecutionStatus, StepStatus
from orchestration.step_rows import RowWords, row_words
from safety.secrets import shown
from tenancy.access import may
from tenancy.roles import Action

# Pieces of the execution page, by the id of the element each one replaces.
STATUS, PROGRESS, ACTIONS, PLAN, STEPS, CONTEXT, MESSAGES, LOGS, OUTCOME = (
    "status",
    "progress",
    "actions",
    "plan",
    "steps",
    "context",
    "messages",
    "logs",
    "outcome",
)
ALL_PARTS = frozenset({STATUS, PROGRESS, ACTIONS, PLAN, STEPS, CONTEXT, MESSAGES, LOGS, OUTCOME})
# Inputs and outputs longer than this start collapsed.
LARGE_JSON_CHARS = 600
TIMELINE_LIMIT = 200
LOG_LIMIT = 200
ACTIVE = frozenset(
    {
        *(ExecutionStatus.PENDING, ExecutionStatus.PLANNING, ExecutionStatus.RUNNING),
        *(ExecutionStatus.WAITING_APPROVAL, ExecutionStatus.WAITING_INPUT, ExecutionStatus.PLANNED),
    }
)
RESUMABLE = frozenset({ExecutionStatus.FAILED, ExecutionStatus.CANCELLED})


class ShownStep(Protocol):
    """What a step's row reads of a step: an ExecutionStep, or the state a step event carries."""

    step_number: int
    agent_id: str
    tool: str
    status: str
    waiting_for: str
    cached: bool
    optional: bool
    attempts: int
    duration_ms: int | None
    tokens_used: int
    error: str
    depends_on: list[int]
    input: Any
    output: Any


@dataclass(frozen=True)
class StepView:
    """A step with what the page needs to show its input, output and files without more queries."""

    step: ShownStep
    words: RowWords
    number_label: str
    # `get_status_display` would rebuild the field's choices on every call.
    status_label: str
    input_text: str
    input_large: bool
    output_text: str
    output_large: bool
    output_stored: bool
    output_bytes: int | None
    produced_file: str | None

    @property
    def waiting_approval(self) -> bool:
        return self.step.status == StepStatus.WAITING_APPROVAL


def _json_text(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def _output_text(output: Any, stored: bool) -> str:
    """The output as JSON text; a stored one shows the first characters of its JSON."""
    if output is None:
        return ""
    return str(output.get("preview", "")) if stored else _json_text(output)


def step_view(step: ShownStep) -> StepView:
    output = step.output
    stored = is_stored(output)
    output_text = _output_text(output, stored)
    produced = output.get("path") if isinstance(output, dict) and not stored else None
    input_text = _json_text(shown(step.input))
    words = row_words(translation.get_language())
    return StepView(
        step=step,
        words=words,
        number_label=words.step_number % {"number": step.step_number},
        status_label=words.statuses.get(step.status, step.status),
        input_text=input_text,
        input_large=len(input_text) > LARGE_JSON_CHARS,
        output_text=output_text,
        output_large=stored or len(output_text) > LARGE_JSON_CHARS,
        output_stored=stored,
        output_bytes=output.get("bytes") if is_stored(output) else None,
        produced_file=produced if step.status == StepStatus.SUCCEEDED and isinstance(produced, str) else None,
    )


def message_summary(payload: Any, limit: int = 200) -> str:
    """One line out of a message payload: its summary or status, else its scalar fields."""
    payload = shown(payload)
    if not isinstance(payload, dict):
        return str(payload)[:limit]
    fields = [
        f"{key}: {value}"
        for key, value in payload.items()
        if isinstance(value, str | int | float | bool) and value != ""
    ]
    text = ", ".join(fields)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def visible_execution(user: Any, execution_id: uuid.UUID | str) -> Execution | None:
    """The run if the user may see it (a member of its workspace), else None; callers answer 404."""
    return Execution.objects.for_user(user).select_related("workspace", "user").filter(pk=execution_id).first()


def execution_context(
    execution: Execution, user: Any, parts: Iterable[str] = ALL_PARTS, step_numbers: Iterable[int] = ()
) -> dict[str, Any]:
    """Everything the requested parts show, read with one query per part."""
    parts = set(parts)
    context: dict[str, Any] = {
        "execution": execution,
        "parts": parts,
        "is_active": execution.status in ACTIVE,
    }
    if ACTIONS in parts:
        allowed = may(user, Action.CANCEL, execution.workspace_id)
        context["can_cancel"] = allowed and execution.status in ACTIVE
        context["can_resume"] = allowed and execution.status in RESUMABLE and execution.total_steps > 0
        may_run = may(user, Action.RUN, execution.workspace_id)
        context["can_start"] = may_run and execution.status == ExecutionStatus.PLANNED
        context["can_answer"] = may_run and execution.status == ExecutionStatus.WAITING_INPUT
    if PLAN in parts:
        context["plan_steps"] = (execution.plan or {}).get("steps", [])
        context["plan_versions"] = list(execution.plan_versions.order_by("version"))
    steps = execution.steps.order_by("step_number")
    if STEPS in parts:
        context["steps"] = [step_view(step) for step in steps]
    elif step_numbers:
        context["step_rows"] = [step_view(step) for step in steps.filter(step_number__in=list(step_numbers))]
    if CONTEXT in parts:
        context["shared_context"] = [
            (item, _json_text(item.value)) for item in execution.shared_context.order_by("created_at", "key")
        ]
    if MESSAGES in parts:
        latest = list(execution.messages.order_by("-created_at")[:TIMELINE_LIMIT])
        context["timeline"] = [(message, message_summary(message.payload)) for message in reversed(latest)]
    if LOGS in parts:
        logs = Log.objects.filter(execution=execution).order_by("-timestamp", "-id")[:LOG_LIMIT]
        context["logs"] = list(reversed(logs))
    if OUTCOME in parts:
        context["question"] = execution.question if execution.status == ExecutionStatus.WAITING_INPUT else None
        context["can_answer"] = may(user, Action.RUN, execution.workspace_id)
        context["result_text"] = "" if execution.result is None else _json_text(execution.result)
        context["result_summary"] = (execution.result or {}).get("summary", "") if execution.result else ""
    return context


def render_execution_parts(
    execution: Execution, user: Any, parts: Iterable[str] = ALL_PARTS, step_numbers: Iterable[int] = ()
) -> str:
    """The requested parts as out-of-band fragments, ready for a websocket frame or an htmx response."""
    context = execution_context(execution, user, parts, step_numbers)
    return render_to_string("htmx/orchestration/execution_parts.html", {**context, "oob": True})


def render_execution_row(execution: Execution, *, new: bool = False) -> str:
    """A row of the executions list: replacing its old self, or added on top of the list when new."""
    return render_to_string("htmx/orchestration/execution_row.html", {"execution": execution, "new": new, "oob": True})
