"""Which MCP tools a workspace marked safe: they run without a person's approval per call.

One place reads and writes the mark, so moving it to the tools app's
per-workspace tool setting (`approval_waived`) changes these two functions
and nothing else. A server's own hints (readOnlyHint...) only pre-fill the
form; the mark is always a person's choice.
"""

from __future__ import annotations

import uuid

from tools_mcp.models import McpServer


def marked_safe(workspace_id: uuid.UUID | str, tool_name: str) -> bool:
    server_name = tool_name.split(".")[1] if tool_name.count(".") >= 2 else ""
    safe = McpServer.objects.filter(workspace_id=workspace_id, name=server_name).values_list("safe_tools", flat=True)
    return any(tool_name in (names or []) for names in safe)


def set_marked_safe(server: McpServer, tool_names: set[str]) -> None:
    """Mark exactly these tools of the server safe (others need approval again)."""
    ours = sorted(name for name in tool_names if name.startswith(server.tool_prefix))
    McpServer.objects.filter(pk=server.pk).update(safe_tools=ours)
    server.safe_tools = ours
