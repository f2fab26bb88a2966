"""Test doubles and helpers that use real protocols and real files (no mocks of our own code).

- `tests.support.openai_server`: a real OpenAI-compatible HTTP server and
  its `openai_server` fixture (see that module's docstring).
- `tool_call()` / `run_tool()`: call a registered tool directly, as the
  engine would, for one workspace.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tools.base import ToolCall, ToolResult

# Imports of our code are inside the helpers: this package is loaded as a pytest plugin, before Django is set up.


def tool_call(tool_input: dict[str, Any], workspace_id: uuid.UUID | str, *, step_number: int = 1) -> ToolCall:
    from tools.base import ToolCall

    return ToolCall(
        input=tool_input,
        workspace_id=str(workspace_id),
        execution_id="e",
        step_number=step_number,
        idempotency_key=f"e:{step_number}",
    )


def run_tool(name: str, tool_input: dict[str, Any], workspace_id: uuid.UUID | str) -> ToolResult:
    """Validate the input against the tool's schema (as the engine does), then run the tool."""
    import jsonschema

    from tools.registry import registry

    tool = registry.get(name)
    jsonschema.validate(tool_input, tool.input_schema, cls=jsonschema.Draft202012Validator)
    return tool.run(tool_call(tool_input, workspace_id))
