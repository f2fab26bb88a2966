"""Registering and managing a workspace's MCP servers: what the pages (and tests) call.

Everyone in a workspace sees its servers and their tools; owners and admins
(the manage-settings action) register, refresh, mark tools safe, disable
and delete them. A server is checked before it is stored: a stdio command
must be one the installation allows, an HTTP URL must pass the SSRF guard.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from tenancy.access import may
from tenancy.models import Workspace
from tenancy.roles import Action
from tools.base import ToolError
from tools.models import ToolCatalog, ToolType
from tools.ssrf import parse_url, resolve_public
from tools_mcp import connection, discovery
from tools_mcp.marking import set_marked_safe
from tools_mcp.models import McpServer, Transport


class ServerInvalid(ValueError):
    """The server's settings cannot be used; the message says why."""


def may_manage(user: Any, workspace: Workspace | Any) -> bool:
    return may(user, Action.MANAGE_SETTINGS, workspace)


def require_manage(user: Any, workspace: Workspace | Any) -> None:
    if not may_manage(user, workspace):
        raise PermissionDenied("Only the workspace's owners and admins manage its MCP servers.")


def visible_servers(user: Any) -> QuerySet[McpServer]:
    return McpServer.objects.for_user(user).select_related("workspace")


def tools_of(server: McpServer) -> QuerySet[ToolCatalog]:
    return ToolCatalog.objects.filter(
        workspace_id=server.workspace_id, tool_type=ToolType.MCP, name__startswith=server.tool_prefix
    ).order_by("name")


def check_target(transport: str, command: str, url: str) -> tuple[str, str]:
    """The command or URL to store, checked; ServerInvalid says what is wrong."""
    try:
        if transport == Transport.STDIO:
            connection.allowed_command(command)
            return command.strip(), ""
        target = parse_url(url)
        resolve_public(target.host, target.port)
    except ToolError as exc:
        raise ServerInvalid(str(exc)) from None
    return "", target.url


def register(
    user: Any,
    workspace: Workspace,
    *,
    name: str,
    transport: str,
    command: str = "",
    url: str = "",
    headers: dict[str, str] | None = None,
) -> tuple[McpServer, discovery.Refreshed]:
    """Store the server and discover its tools at once (a failed discovery is kept on the server)."""
    require_manage(user, workspace)
    command, url = check_target(transport, command, url)
    try:
        with transaction.atomic():
            server = McpServer.objects.create(
                workspace=workspace,
                name=name,
                transport=transport,
                command=command,
                url=url,
                headers_sealed=connection.seal_headers(headers or {}, workspace.pk)
                if transport == Transport.HTTP
                else "",
                created_by=user,
            )
    except IntegrityError:
        raise ServerInvalid(f"This workspace already has an MCP server named {name}.") from None
    return server, discovery.refresh(server)


def refresh(user: Any, server: McpServer) -> discovery.Refreshed:
    require_manage(user, server.workspace_id)
    return discovery.refresh(server)


def set_enabled(user: Any, server: McpServer, enabled: bool) -> None:
    require_manage(user, server.workspace_id)
    McpServer.objects.filter(pk=server.pk).update(enabled=enabled)
    server.enabled = enabled


def mark_safe(user: Any, server: McpServer, tool_names: set[str]) -> None:
    """Mark exactly these of the server's tools safe (owners and admins; the tool setting checks it too)."""
    require_manage(user, server.workspace_id)
    set_marked_safe(user, server, tool_names, set(tools_of(server).values_list("name", flat=True)))


def delete(user: Any, server: McpServer) -> None:
    require_manage(user, server.workspace_id)
    with transaction.atomic():
        discovery.forget(server)
        server.delete()
