"""Which MCP tools a workspace marked safe: they run without a person's approval per call.

The mark is the tools app's per-workspace tool setting (`approval_waived`,
tools/services/workspace_tools.py), the same one the tool catalogue page
sets; these two functions are the MCP side's only way to it. A server's own
hints (readOnlyHint...) only pre-fill the form; the mark is always a
person's choice.
"""

from __future__ import annotations

import uuid
from typing import Any

from tools.services.workspace_tools import approval_waived, change_tool_setting, settings_by_tool
from tools_mcp.models import McpServer


def marked_safe(workspace_id: uuid.UUID | str, tool_name: str) -> bool:
    return approval_waived(workspace_id, tool_name)


def safe_tools(server: McpServer) -> set[str]:
    """The server's tools the workspace marked safe."""
    chosen = settings_by_tool(server.workspace_id)
    return {name for name, row in chosen.items() if name.startswith(server.tool_prefix) and row.approval_waived}


def set_marked_safe(user: Any, server: McpServer, tool_names: set[str], listed: set[str]) -> None:
    """Mark exactly `tool_names` of the server's `listed` tools safe (the others need approval again)."""
    already = safe_tools(server)
    for name in sorted(listed):
        safe = name in tool_names
        if safe != (name in already):
            change_tool_setting(user, server.workspace_id, name, approval_waived=safe)
