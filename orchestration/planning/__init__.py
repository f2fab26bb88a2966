"""Planning: turn a request into a validated plan.

What was learned is asked first (`orchestration.planning.learned`): a
learned pattern confident enough for the request's signature, or the
variant a running A/B test gives the run. Then the LLM planner is asked first when a model endpoint is configured; an
answer that is not valid JSON or not a valid plan falls back to the rule
planner, and the reason is logged and kept in the plan. A request that
misses a detail raises NeedsAnswer (the run asks the person, see
`orchestration.questions`); a request no tool can serve raises
NoToolForRequest with a message for the person.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from typing import Any

from django.utils import timezone

from orchestration.agents import current_prompt
from orchestration.planning.learned import chosen_prompt, learned_plan
from orchestration.planning.questions import NeedsAnswer
from orchestration.planning.rules import NoToolForRequest, plan_with_rules
from orchestration.planning.schema import PlanInvalid, plannable_tools, validate_plan
from tenancy.models import Workspace
from tools.base import Tool, ToolError
from tools.integrations.llm.client import chat, llm_configured
from tools.services.workspace_tools import WorkspaceRef

logger = logging.getLogger(__name__)

__all__ = ["NeedsAnswer", "NoToolForRequest", "PlanInvalid", "make_plan"]


def _workspace_id(workspace: WorkspaceRef | None) -> uuid.UUID | str | None:
    return workspace.pk if isinstance(workspace, Workspace) else workspace


def _catalogue(tools: list[Tool]) -> list[dict[str, Any]]:
    return [
        {
            "name": tool.name,
            "description": tool.description,
            "capabilities": list(tool.capabilities),
            "input_schema": tool.input_schema,
        }
        for tool in tools
    ]


def plan_with_llm(
    request_text: str,
    tools: list[Tool],
    workspace: WorkspaceRef | None = None,
    *,
    execution_id: uuid.UUID | str = "",
) -> tuple[dict[str, Any], int]:
    """Ask the model for a plan with only `tools`; returns the validated plan and the tokens spent."""
    chosen = chosen_prompt("planner", workspace_id=_workspace_id(workspace), execution_id=execution_id)
    prompt, assignment = chosen if chosen is not None else (current_prompt("planner"), None)
    reply = chat(
        [
            {"role": "system", "content": prompt.prompt},
            {"role": "user", "content": json.dumps({"tools": _catalogue(tools), "request": request_text})},
        ],
        json_mode=True,
    )
    try:
        raw = json.loads(reply.content)
    except (TypeError, json.JSONDecodeError) as exc:
        raise PlanInvalid([f"the model did not answer with JSON ({exc})"]) from None
    plan = validate_plan(raw, planner="llm", workspace=workspace)
    plan["prompt_version"] = prompt.version
    if assignment is not None:
        plan["ab_test"] = assignment
    return plan, reply.total_tokens


def make_plan(
    request_text: str,
    *,
    execution_id: uuid.UUID | str,
    answers: dict[str, str] | None = None,
    me: str | None = None,
    drive_names: Sequence[str] | None = None,
    workspace: WorkspaceRef | None = None,
) -> dict[str, Any]:
    """A validated plan for the request (with `planner` saying who made it).

    `answers` are the person's answers to earlier questions, by field;
    `me` is the asker's e-mail address; `drive_names` the workspace's files.
    Both planners are offered only the tools `workspace` may use; its learned
    patterns and running A/B tests are asked first.
    """
    log_extra = {"execution_id": str(execution_id)}
    learned = learned_plan(
        request_text, workspace_id=_workspace_id(workspace), execution_id=execution_id, answers=answers
    )
    if learned is not None:
        try:
            plan = validate_plan(learned, planner=learned["planner"], workspace=workspace)
        except PlanInvalid as exc:
            logger.warning("The learned plan is not valid any more (%s); planning anew", exc, extra=log_extra)
        else:
            logger.info("Planned from what was learned (%s)", plan["planner"], extra=log_extra)
            return plan
    fallback_reason = None
    tools = plannable_tools(workspace)
    if llm_configured():
        said = "".join(
            f"\n(Asked for {field}, the person answered: {answer})" for field, answer in (answers or {}).items()
        )
        try:
            plan, tokens = plan_with_llm(request_text + said, tools, workspace, execution_id=execution_id)
            plan["tokens_used"] = tokens
            logger.info("Planned with the language model: %d steps", len(plan["steps"]), extra=log_extra)
            return plan
        except (PlanInvalid, ToolError) as exc:
            fallback_reason = f"The model's plan was not usable: {exc}"
            logger.warning("%s; using the rule planner", fallback_reason, extra=log_extra)
    now = timezone.localtime().replace(tzinfo=None, microsecond=0)
    planned = plan_with_rules(request_text, now=now, answers=answers, me=me, drive_names=drive_names, tools=tools)
    plan = validate_plan(planned, planner="rules", workspace=workspace)
    if fallback_reason:
        plan["fallback_reason"] = fallback_reason
    logger.info("Planned with rules: %d steps", len(plan["steps"]), extra=log_extra)
    return plan
