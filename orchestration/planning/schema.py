"""What a valid plan is, checked the same way whoever wrote it (rules or a model).

A plan is JSON: {"planner": ..., "steps": [{"number", "agent", "tool",
"input", "depends_on", "optional", "description"}...]}. Steps are numbered
1..N in order, depend only on earlier steps, use registered tools, and refer
(with {"$step": N}) only to steps they depend on. A tool is usable unless its
plugin is disabled or the workspace switched it off (the tool catalogue page).
"""

from __future__ import annotations

from typing import Any

from orchestration.agents import agent_for_tool
from orchestration.engine.references import references_of
from plugins.state import disabled_tools
from tools.base import Tool
from tools.registry import registry
from tools.services.workspace_tools import WorkspaceRef, workspace_id_of
from tools.services.workspace_tools import disabled_tools as workspace_disabled_tools


class PlanInvalid(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def plannable_tools(workspace: WorkspaceRef | None = None) -> list[Tool]:
    """The tools a plan may use: the registered ones and the workspace's own (its MCP servers'), but not
    those of disabled plugins nor those the workspace switched off."""
    disabled = disabled_tools() | workspace_disabled_tools(workspace)
    return [tool for tool in registry.for_workspace(workspace_id_of(workspace)) if tool.name not in disabled]


def _resolved(tool: Any, workspace_id: Any) -> Tool | None:
    """The tool a step names, registered or the workspace's own; None when there is none."""
    if not isinstance(tool, str):
        return None
    try:
        return registry.resolve(tool, workspace_id)
    except KeyError:
        return None


def plugin_disabled(tool: str) -> bool:
    """Whether the tool is a plugin's and the plugin is switched off (a query only for plugins' tools)."""
    return tool in registry and registry.origin(tool).startswith("plugin:") and tool in disabled_tools()


def validate_plan(raw: Any, *, planner: str, workspace: WorkspaceRef | None = None) -> dict[str, Any]:
    """The plan in normal form, or PlanInvalid listing every problem found.

    With `workspace`, its own tools (its MCP servers') are known, and a tool switched off there is a problem.
    """
    workspace_id = workspace_id_of(workspace)
    if not isinstance(raw, dict) or not isinstance(raw.get("steps"), list) or not raw["steps"]:
        raise PlanInvalid(['a plan is an object with a non-empty "steps" list'])
    problems: list[str] = []
    steps: list[dict[str, Any]] = []
    # Read only for plans using a plugin's tool: validating a plan of built-ins needs no query.
    uses_plugins = any(
        isinstance(step, dict)
        and isinstance(step.get("tool"), str)
        and step["tool"] in registry
        and registry.origin(step["tool"]).startswith("plugin:")
        for step in raw["steps"]
    )
    disabled = disabled_tools() if uses_plugins else frozenset()
    switched_off = workspace_disabled_tools(workspace)
    for index, step in enumerate(raw["steps"], start=1):
        where = f"step {index}"
        if not isinstance(step, dict):
            problems.append(f"{where} is not an object")
            continue
        if step.get("number", index) != index:
            problems.append(f"{where} is numbered {step.get('number')!r}; steps are numbered 1..N in order")
        tool = step.get("tool")
        found = _resolved(tool, workspace_id)
        if found is None:
            problems.append(f"{where} uses unknown tool {tool!r}")
        elif tool in disabled:
            problems.append(f"{where} uses {tool!r}, whose plugin is disabled")
        elif tool in switched_off:
            problems.append(f"{where} uses {tool!r}, which is switched off in this workspace")
        tool_input = step.get("input", {})
        if not isinstance(tool_input, dict):
            problems.append(f"{where} input must be an object")
            tool_input = {}
        depends_on = step.get("depends_on", [])
        if not isinstance(depends_on, list) or not all(isinstance(n, int) and 1 <= n < index for n in depends_on):
            problems.append(f"{where} may depend only on earlier step numbers, got {depends_on!r}")
            depends_on = []
        timeout = step.get("timeout_seconds")
        if timeout is not None and not (isinstance(timeout, int | float) and timeout > 0):
            problems.append(f"{where} timeout_seconds must be a positive number")
        attempts = step.get("max_attempts")
        if attempts is not None and not (isinstance(attempts, int) and 1 <= attempts <= 10):
            problems.append(f"{where} max_attempts must be an integer from 1 to 10")
        undeclared = references_of(tool_input) - set(depends_on)
        if undeclared:
            problems.append(f"{where} refers to steps {sorted(undeclared)} it does not depend on")
        if found is not None:
            required = found.input_schema.get("required", [])
            missing = [key for key in required if key not in tool_input]
            if missing:
                problems.append(f"{where} ({tool}) lacks required input {missing}")
        steps.append(
            {
                "number": index,
                "agent": agent_for_tool(tool) if isinstance(tool, str) else "",
                "tool": tool,
                "input": tool_input,
                "depends_on": sorted(set(depends_on)),
                "optional": bool(step.get("optional", False)),
                **({"timeout_seconds": timeout} if timeout is not None else {}),
                **({"max_attempts": attempts} if attempts is not None else {}),
                "description": str(step.get("description", ""))[:500],
            }
        )
    if problems:
        raise PlanInvalid(problems)
    plan = {key: value for key, value in raw.items() if key != "steps"}
    plan.update({"planner": planner, "steps": steps})
    return plan
