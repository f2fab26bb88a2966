"""Tool discovery: keep the ToolCatalog table in step with the tool registry.

The registry (filled at start-up) is the truth about what this process can
run; the catalogue is what the console and the planner's history see.
Discovery upserts a row per registered tool and never deletes one: a tool
that disappears (a plugin uninstalled) keeps its row, marked
`{"available": false}`, so past executions that used it still make sense.
Only built-in and plugin rows are ours to mark; rows for external and MCP tool
servers are kept by whatever discovers those.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from tools.models import ToolCatalog, ToolType
from tools.registry import ToolRegistry, registry


@dataclass
class DiscoveryReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # in the catalogue, no longer registered

    def __str__(self) -> str:
        return f"{len(self.added)} added, {len(self.updated)} updated, {len(self.missing)} missing"


def tool_type_for(origin: str) -> str:
    """Built-in tools are "builtin"; tools from ORCHESTRATE_EXTRA_TOOLS ("extra") and plugins count as plugins."""
    return ToolType.BUILTIN if origin == "builtin" else ToolType.PLUGIN


def discover_tools(tools: ToolRegistry | None = None, *, using: str = DEFAULT_DB_ALIAS) -> DiscoveryReport:
    tools = tools or registry
    report = DiscoveryReport()
    now = timezone.now()
    rows = ToolCatalog.objects.using(using).filter(workspace__isnull=True)
    with transaction.atomic(using=using):
        existing = {row.name: row for row in rows.select_for_update()}
        for tool in tools.all():
            origin = tools.origin(tool.name)
            values: dict[str, Any] = {
                "tool_type": tool_type_for(origin),
                "capabilities": list(tool.capabilities),
                "metadata": {**tool.describe(), "origin": origin, "available": True},
                "last_discovered_at": now,
            }
            row = existing.get(tool.name)
            if row is None:
                rows.create(name=tool.name, **values)
                report.added.append(tool.name)
            else:
                rows.filter(pk=row.pk).update(**values)
                report.updated.append(tool.name)
        registered = {tool.name for tool in tools.all()}
        for name, row in sorted(existing.items()):
            if name in registered or row.tool_type not in (ToolType.BUILTIN, ToolType.PLUGIN):
                continue
            report.missing.append(name)
            if (row.metadata or {}).get("available") is not False:
                rows.filter(pk=row.pk).update(metadata={**(row.metadata or {}), "available": False})
    return report


def discover_after_migrate(sender: Any, using: str = DEFAULT_DB_ALIAS, verbosity: int = 1, **kwargs: Any) -> None:
    """post_migrate receiver (connected for the tools app only): refresh the catalogue after every migrate."""
    connection = connections[using]
    if ToolCatalog._meta.db_table not in connection.introspection.table_names():
        return  # migrated backwards, or only up to before the tools tables: nothing to fill
    report = discover_tools(using=using)
    if verbosity >= 1:
        stdout = kwargs.get("stdout") or sys.stdout  # migrate's own output stream
        stdout.write(f"  Tool discovery: {report}\n")
