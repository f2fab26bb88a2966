"""The tool catalogue as people see it: every `tool_catalog` row, where it came from, and a search.

The installation's tools are the same for every workspace; what differs per
workspace is whether a tool is switched off or marked safe there, read from
`WorkspaceToolSetting` in one query for the whole list, and the tools of the
workspace's own MCP servers (rows with its `workspace`), which no other
workspace sees.
Rows come from discovery: built-in tools, plugin tools (origin
`plugin:<name>`), tools named in ORCHESTRATE_EXTRA_TOOLS (origin `extra`),
and tools of MCP servers (tool_type "mcp", named `mcp.<server>.<tool>`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from tools.models import ToolCatalog, ToolType
from tools.services.workspace_tools import WorkspaceRef, settings_by_tool, workspace_id_of

MAX_QUERY = 200


@dataclass(frozen=True)
class Source:
    kind: str  # builtin, plugin, extra, mcp, external
    label: str  # for people: "Built-in", "Plugin chatops", "MCP server files"
    name: str = ""  # the plugin's or server's name, when there is one


@dataclass
class CatalogueEntry:
    """One tool as the catalogue page shows it."""

    name: str
    tool_type: str
    source: Source
    agent: str
    description: str
    input_schema: dict[str, Any]
    capabilities: list[str]
    critical: bool
    cacheable: bool
    rate_limit: str  # "integration.operation", or ""
    locks: str
    available: bool  # False: registered once, not found by the latest discovery
    last_discovered_at: datetime
    enabled: bool = True  # in the workspace the page is for
    approval_waived: bool = False
    flags: list[str] = field(default_factory=list)

    @property
    def dom_id(self) -> str:
        """An HTML id for the tool's row: the name with every character outside [A-Za-z0-9_-] spelled out."""
        return "tool-" + re.sub(r"[^A-Za-z0-9_-]", lambda found: f"-{ord(found.group()):x}-", self.name)

    @property
    def input_schema_json(self) -> str:
        return json.dumps(self.input_schema, indent=2, sort_keys=True)

    def haystack(self) -> str:
        """What a search looks in, lower-cased."""
        parts = [self.name, self.description, self.source.label, self.agent, self.tool_type, *self.capabilities]
        parts += [*self.flags, self.rate_limit, self.locks]
        return " ".join(parts).lower()


def source_of(row: ToolCatalog) -> Source:
    metadata = row.metadata or {}
    origin = str(metadata.get("origin", ""))
    if row.tool_type == ToolType.MCP:
        server = str(metadata.get("server") or (row.name.split(".")[1] if row.name.count(".") >= 2 else ""))
        return Source("mcp", f"MCP server {server}".strip(), server)
    if row.tool_type == ToolType.PLUGIN:
        if origin.startswith("plugin:"):
            plugin = origin.partition(":")[2]
            return Source("plugin", f"Plugin {plugin}", plugin)
        return Source("extra", "Extra (ORCHESTRATE_EXTRA_TOOLS)")
    if row.tool_type == ToolType.EXTERNAL:
        return Source("external", "External tool server", str(metadata.get("server", "")))
    return Source("builtin", "Built-in")


def agent_of(name: str) -> str:
    """The agent that runs the tool: its namespace, as `orchestration.agents.agent_for_tool` says."""
    return name.split(".", 1)[0]


def _entry(row: ToolCatalog) -> CatalogueEntry:
    metadata: dict[str, Any] = row.metadata or {}
    rate_limit = metadata.get("rate_limit")
    schema = metadata.get("input_schema")
    entry = CatalogueEntry(
        name=row.name,
        tool_type=row.tool_type,
        source=source_of(row),
        agent=agent_of(row.name),
        description=str(metadata.get("description", "")),
        input_schema=schema if isinstance(schema, dict) else {},
        capabilities=[str(capability) for capability in row.capabilities or []],
        critical=bool(metadata.get("critical", False)),
        cacheable=bool(metadata.get("cacheable", False)),
        rate_limit=".".join(str(part) for part in rate_limit) if isinstance(rate_limit, list) else "",
        locks=str(metadata.get("locks", "")),
        available=metadata.get("available") is not False,
        last_discovered_at=row.last_discovered_at,
    )
    entry.flags = [
        flag
        for flag, on in (
            ("critical", entry.critical),
            ("cacheable", entry.cacheable),
            ("rate-limited", bool(entry.rate_limit)),
            ("locks", bool(entry.locks)),
            ("unavailable", not entry.available),
        )
        if on
    ]
    return entry


def _with_settings(entries: list[CatalogueEntry], workspace: WorkspaceRef | None) -> list[CatalogueEntry]:
    if workspace is None or not entries:
        return entries
    chosen = settings_by_tool(workspace)
    for entry in entries:
        setting = chosen.get(entry.name)
        if setting is not None:
            entry.enabled, entry.approval_waived = setting.enabled, setting.approval_waived
            if not setting.enabled:
                entry.flags.append("disabled")
            if setting.approval_waived:
                entry.flags.append("marked safe")
    return entries


def _rows(workspace: WorkspaceRef | None) -> QuerySet[ToolCatalog]:
    """The installation's tools and the workspace's own; never another workspace's."""
    mine = Q(workspace__isnull=True)
    if workspace is not None:
        mine |= Q(workspace_id=workspace_id_of(workspace))
    return ToolCatalog.objects.filter(mine)


def catalogue(workspace: WorkspaceRef | None, query: str = "") -> list[CatalogueEntry]:
    """Every catalogued tool matching the query (all its words, anywhere), with the workspace's settings."""
    entries = _with_settings([_entry(row) for row in _rows(workspace).order_by("name")], workspace)
    words = query.strip().lower()[:MAX_QUERY].split()
    return [entry for entry in entries if all(word in entry.haystack() for word in words)]


def catalogue_entry(workspace: WorkspaceRef | None, name: str) -> CatalogueEntry | None:
    row = _rows(workspace).filter(name=name).first()
    return None if row is None else _with_settings([_entry(row)], workspace)[0]
