"""Discovery: what tools a workspace's MCP servers offer, kept in `tool_catalog`.

Each tool becomes (or updates) the row `mcp.<server>.<tool>` of the
workspace, with the server's description, input schema and hints, and
capabilities read from its name and description; a tool the server no
longer lists keeps its row marked `{"available": false}` (past runs still
name it) and is not planned. Runs on demand (the server page's button) and
on a schedule (`refresh_due`, from Celery beat or the embedded server's thread).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import jsonschema
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tools.base import ToolError
from tools.models import ToolCatalog, ToolType
from tools.registry import registry
from tools_mcp import connection
from tools_mcp.models import McpServer

if TYPE_CHECKING:
    from mcp_types import Tool as McpToolInfo

logger = logging.getLogger(__name__)

_TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
# Words that say what a tool does: "search_files" -> files.search, "git_status" -> git.status.
VERBS = frozenset(
    {
        *("get", "list", "search", "find", "read", "fetch", "write", "create", "update", "delete", "remove"),
        *("send", "run", "add", "show", "set", "make", "book", "status", "diff", "log", "commit", "checkout"),
        *("branch", "reset", "summarise", "summarize", "analyse", "analyze", "describe", "query"),
    }
)


@dataclass
class Refreshed:
    server: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # names or schemas we cannot use
    error: str = ""

    def __str__(self) -> str:
        if self.error:
            return f"{self.server}: {self.error}"
        return f"{self.server}: {len(self.added)} added, {len(self.updated)} updated, {len(self.missing)} gone"


def capabilities_of(tool_name: str, description: str, server: str) -> list[str]:
    """noun.verb capabilities from the tool's name, plus the installed ones its description speaks of."""
    words = [word.lower() for word in _WORDS.findall(tool_name)]
    found = {f"mcp.{server}"}
    verbs = [word for word in words if word in VERBS]
    nouns = [word for word in words if word not in VERBS]
    if verbs:
        noun = nouns[0] if nouns else server
        found.add(f"{noun}.{verbs[-1] if nouns and words[0] == noun else verbs[0]}")
    said = {word.lower() for word in _WORDS.findall(description)}
    said |= {word[:-1] for word in said if word.endswith("s")}
    for known in {cap for tool in registry.all() for cap in tool.capabilities}:
        noun, _, verb = known.partition(".")
        if noun.rstrip("s") in said and verb in said and (noun in said or noun.rstrip("s") in said):
            found.add(known)
    return sorted(found)


def _metadata(server: McpServer, info: McpToolInfo) -> dict[str, Any]:
    hints = info.annotations.model_dump(by_alias=True, exclude_none=True) if info.annotations else {}
    return {
        "server_id": str(server.pk),
        "server": server.name,
        "tool": info.name,
        "title": info.title or hints.get("title") or info.name,
        "description": (info.description or "")[:2000],
        "input_schema": info.input_schema,
        "annotations": hints,
        # As the tool contract describes every tool, for the catalogue page: each call is approved unless marked safe.
        "critical": True,
        "side_effects": not hints.get("readOnlyHint", False),
        "rate_limit": ["mcp", server.name],
        "available": True,
    }


def _problem(server: McpServer, info: McpToolInfo) -> str | None:
    if not _TOOL_NAME.match(info.name) or len(server.tool_prefix + info.name) > 100:
        return "its name is not usable here"
    try:
        jsonschema.validators.validator_for(info.input_schema).check_schema(info.input_schema)
    except jsonschema.SchemaError as exc:
        return f"its input schema is invalid ({exc.message})"
    return None


def store(server: McpServer, listed: list[McpToolInfo]) -> Refreshed:
    """Write what the server listed into the catalogue."""
    report = Refreshed(server.name)
    now = timezone.now()
    rows = ToolCatalog.objects.filter(workspace_id=server.workspace_id, name__startswith=server.tool_prefix)
    with transaction.atomic():
        existing = {row.name: row for row in rows.select_for_update()}
        seen: set[str] = set()
        for info in listed:
            problem = _problem(server, info)
            if problem:
                report.skipped.append(f"{info.name}: {problem}")
                continue
            name = server.tool_prefix + info.name
            seen.add(name)
            values = {
                "tool_type": ToolType.MCP,
                "capabilities": capabilities_of(info.name, info.description or "", server.name),
                "metadata": _metadata(server, info),
                "last_discovered_at": now,
            }
            if name in existing:
                rows.filter(pk=existing[name].pk).update(**values)
                report.updated.append(name)
            else:
                ToolCatalog.objects.create(name=name, workspace_id=server.workspace_id, **values)
                report.added.append(name)
        for name, row in existing.items():
            if name not in seen:
                report.missing.append(name)
                rows.filter(pk=row.pk).update(metadata={**(row.metadata or {}), "available": False})
        McpServer.objects.filter(pk=server.pk).update(last_discovered_at=now, last_error="")
    return report


def refresh(server: McpServer) -> Refreshed:
    """Ask the server for its tools now and store them; a failure is kept on the server, not raised."""
    try:
        listed = connection.list_tools(server)
    except ToolError as exc:
        McpServer.objects.filter(pk=server.pk).update(last_discovered_at=timezone.now(), last_error=str(exc)[:2000])
        logger.warning("MCP server %s (workspace %s): discovery failed: %s", server.name, server.workspace_id, exc)
        return Refreshed(server.name, error=str(exc))
    report = store(server, listed)
    logger.info("MCP server %s (workspace %s): %s", server.name, server.workspace_id, report)
    return report


def refresh_due(now: Any = None) -> list[Refreshed]:
    """Refresh every enabled server not discovered within ORCHESTRATE_MCP_REFRESH_SECONDS."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.ORCHESTRATE_MCP_REFRESH_SECONDS)
    due = McpServer.objects.filter(Q(last_discovered_at__isnull=True) | Q(last_discovered_at__lt=stale), enabled=True)
    reports = []
    for server in due.order_by("last_discovered_at"):
        # Claimed by moving its time on first, so two schedulers do not both refresh it.
        if McpServer.objects.filter(pk=server.pk, last_discovered_at=server.last_discovered_at).update(
            last_discovered_at=now
        ):
            reports.append(refresh(server))
    return reports


def forget(server: McpServer) -> int:
    """Remove the server's tools from the catalogue (the server is being deleted)."""
    deleted, _ = ToolCatalog.objects.filter(
        workspace_id=server.workspace_id, tool_type=ToolType.MCP, name__startswith=server.tool_prefix
    ).delete()
    return deleted
