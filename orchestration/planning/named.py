"""Planning a workspace's own tools (its MCP servers') by rule: by name, or by what they do.

Tools a workspace brought in have names like `mcp.<server>.<tool>` that no
sentence says by accident, so when a request spells one out ("run
mcp.git.git_status with repo_path=/srv/repo") the rule planner plans exactly
that step. A request the built-in reading finds nothing in may still say
what a workspace tool does: a tool whose capability's noun and verb both
appear in it ("show the git status", capability git.status) is planned. Its input comes
from a JSON object in the request (`{"repo_path": "/srv/repo"}`) or from
`key=value` pairs naming the tool's input properties, typed by its schema.
Built-in tools are left to the rule planner's reading of the request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from tools.base import Tool
from tools.registry import registry

_PAIR = re.compile(r"""(?P<key>[A-Za-z_][\w-]*)\s*=\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\s,;]+))""")


def named_tool(text: str, tools: Sequence[Tool]) -> Tool | None:
    """The workspace tool the request names (the longest name, if it names several), or None."""
    named = [
        tool
        for tool in tools
        if tool.name not in registry
        and re.search(rf"(?<![\w.]){re.escape(tool.name)}(?![\w.])", text, flags=re.IGNORECASE)
    ]
    return max(named, key=lambda tool: len(tool.name), default=None)


def named_tool_input(text: str, tool: Tool) -> dict[str, Any]:
    """The input the request gives the tool: its JSON object, else its key=value pairs."""
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        try:
            given = json.loads(text[start : end + 1])
        except json.JSONDecodeError:
            given = None
        if isinstance(given, dict):
            return given
    properties = tool.input_schema.get("properties") or {}
    found: dict[str, Any] = {}
    for match in _PAIR.finditer(text):
        key = match.group("key")
        if key in properties:
            raw = next(value for value in match.group("dq", "sq", "bare") if value is not None)
            found[key] = _typed(raw, properties[key])
    return found


def _typed(raw: str, schema: Any) -> Any:
    kind = schema.get("type") if isinstance(schema, dict) else None
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
    except ValueError:
        return raw  # the schema check says what is wrong with it
    if kind == "boolean" and raw.lower() in {"true", "false", "yes", "no"}:
        return raw.lower() in {"true", "yes"}
    if kind in {"array", "object"}:
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw
    return raw


_WORD = re.compile(r"[a-z0-9]+")


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def capable_tool(text: str, tools: Sequence[Tool]) -> Tool | None:
    """The workspace tool whose capability the request speaks of (its noun and verb), if exactly one is."""
    said = {_stem(word) for word in _WORD.findall(text.lower())}
    matching = []
    for tool in tools:
        if tool.name in registry:
            continue
        for capability in tool.capabilities:
            noun, _, verb = capability.partition(".")
            if noun != "mcp" and verb and _stem(noun) in said and _stem(verb) in said:
                matching.append(tool)
                break
    return matching[0] if len(matching) == 1 else None


def capable_tool_plan(text: str, tools: Sequence[Tool]) -> dict[str, Any] | None:
    """A one-step plan with the workspace tool that does what the request says, or None."""
    tool = capable_tool(text, tools)
    return None if tool is None else _one_step(text, tool)


def named_tool_plan(text: str, tools: Sequence[Tool]) -> dict[str, Any] | None:
    """A one-step plan with the tool the request names, or None when it names none."""
    tool = named_tool(text, tools)
    return None if tool is None else _one_step(text, tool)


def _one_step(text: str, tool: Tool) -> dict[str, Any]:
    return {
        "steps": [
            {
                "number": 1,
                "tool": tool.name,
                "input": named_tool_input(text, tool),
                "depends_on": [],
                "description": f"Run {tool.name}: {tool.description}"[:500],
            }
        ],
        "intents": ["named_tool"],
    }
