"""MCP tools as ordinary tools: the tool registry's source for names under "mcp.".

A workspace's MCP tools live in `tool_catalog` (written by discovery); for a
plan or a step, `McpToolSource` turns a row into a `McpTool` whose name,
schema and flags are the row's. Calling one is a step like any other: the
engine validates the input against the server's schema, gates it (a person
approves each call unless the workspace marked the tool safe; the server's
rate-limit bucket is `mcp.<server>`), and calls it in a span with the
step's deadline; `run()` honours cancellation too.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from typing import Any, ClassVar

from tools.base import Stage, Tool, ToolCall, ToolError, ToolResult
from tools.models import ToolCatalog, ToolType
from tools.registry import ToolSource
from tools_mcp import connection
from tools_mcp.marking import marked_safe
from tools_mcp.models import McpServer

DEADLINE_MARGIN = 0.5


class McpTool(Tool):
    """One tool of one workspace's MCP server; made per catalogue row by `tool_from_row()`."""

    name = "mcp"
    description = "A tool of an MCP server"
    critical = True
    side_effects = True
    stage = Stage.SINK
    workspace_id: ClassVar[str] = ""
    server_id: ClassVar[str] = ""
    server_name: ClassVar[str] = ""
    remote_name: ClassVar[str] = ""
    hints: ClassVar[dict[str, Any]] = {}

    def approval_reason(self, tool_input: dict[str, Any]) -> str | None:
        if marked_safe(self.workspace_id, self.name):
            return None
        return (
            f"{self.remote_name} is a tool of the MCP server {self.server_name}: a person approves each call "
            "unless the workspace marks the tool safe."
        )

    def estimate_impact(self, tool_input: dict[str, Any]) -> dict[str, Any]:
        return {"server": self.server_name, "tool": self.remote_name, "server_hints": self.hints}

    def run(self, call: ToolCall) -> ToolResult:
        server = McpServer.objects.filter(pk=self.server_id, workspace_id=call.workspace_id, enabled=True).first()
        if server is None:
            raise ToolError(f"The MCP server {self.server_name} was removed or disabled.")
        result = connection.call_tool(
            server,
            self.remote_name,
            call.input,
            # A little before the engine's own limit, so the connection is closed (a stdio server stopped) in time.
            deadline=time.monotonic() + max(0.1, call.seconds_left() - DEADLINE_MARGIN),
            is_cancelled=call.is_cancelled,
        )
        output = connection.output_of(result)
        first_line = output["text"].strip().splitlines()[0][:200] if output["text"].strip() else "no text"
        return ToolResult(output=output, summary=f"{self.server_name}/{self.remote_name}: {first_line}")


def _version(metadata: dict[str, Any]) -> str:
    """Changes whenever the schema or hints do, so validators and cached answers of the old tool are not reused."""
    material = json.dumps([metadata.get("input_schema"), metadata.get("annotations")], sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()[:12]


def tool_from_row(row: ToolCatalog) -> McpTool:
    metadata = row.metadata or {}
    hints = metadata.get("annotations") or {}
    read_only = bool(hints.get("readOnlyHint"))
    attributes = {
        "name": row.name,
        "description": metadata.get("description") or metadata.get("tool", row.name),
        "version": _version(metadata),
        "input_schema": metadata.get("input_schema") or {"type": "object"},
        "capabilities": tuple(row.capabilities or ()),
        "stage": Stage.SOURCE if read_only else Stage.SINK,
        "side_effects": not read_only,
        "rate_limit": ("mcp", metadata.get("server", "")),
        "workspace_id": str(row.workspace_id),
        "server_id": metadata.get("server_id", ""),
        "server_name": metadata.get("server", ""),
        "remote_name": metadata.get("tool", ""),
        "hints": hints,
    }
    tool_class = type(f"McpTool_{row.pk.hex}", (McpTool,), attributes)
    return tool_class()


def _usable(workspace_id: uuid.UUID | str) -> Any:
    enabled = McpServer.objects.filter(workspace_id=workspace_id, enabled=True).values_list("pk", flat=True)
    return ToolCatalog.objects.filter(
        workspace_id=workspace_id,
        tool_type=ToolType.MCP,
        metadata__available=True,
        metadata__server_id__in=[str(pk) for pk in enabled],
    )


class McpToolSource(ToolSource):
    prefix = "mcp."
    origin = "mcp"

    def tools(self, workspace_id: uuid.UUID | str) -> list[Tool]:
        return [tool_from_row(row) for row in _usable(workspace_id).order_by("name")]

    def get(self, name: str, workspace_id: uuid.UUID | str) -> Tool:
        row = _usable(workspace_id).filter(name=name).first()
        if row is None:
            raise KeyError(f"No tool named {name!r} in this workspace (its MCP server may be gone or disabled)")
        return tool_from_row(row)
