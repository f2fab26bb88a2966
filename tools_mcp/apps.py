from __future__ import annotations

from django.apps import AppConfig


class ToolsMcpConfig(AppConfig):
    """MCP both ways: tools from a workspace's MCP servers, and Orchestrate itself as an MCP server."""

    name = "tools_mcp"
    verbose_name = "MCP servers"
    # Read by ToolsConfig.ready() before the tool registry closes (tools/registry.py, ToolSource).
    tool_sources = ("tools_mcp.source.McpToolSource",)
