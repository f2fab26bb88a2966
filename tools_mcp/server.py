"""Orchestrate as an MCP server: a workspace's runs, offered to MCP clients.

Each workspace has an endpoint, `/mcp/<workspace id>/` (streamable HTTP,
see `tools_mcp.endpoint`), for clients holding a personal API token of a
member. It offers three tools:

- `submit_request`: submit a request in the workspace, as the token's user
  (their role must allow running);
- `get_run`: one run of the workspace, with its steps and result;
- `list_pending_approvals`: the critical actions waiting for a person.

Deciding an approval is deliberately not offered: a model on the other end
must not approve its own actions; people do that in the approvals queue.
Every tool reads who is calling from the endpoint's authentication and goes
through the same scoping as the console, so another workspace's runs are
invisible even by id.
"""

from __future__ import annotations

import uuid
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError as McpToolError

from api.serializers import ApprovalSerializer, ExecutionDetailSerializer
from orchestration.engine import runs
from orchestration.forms import MAX_REQUEST_CHARS
from orchestration.models import Execution
from safety.models import ApprovalStatus, PendingApproval
from tenancy.models import Workspace
from tools_mcp.callers import SCOPE_KEY, Caller


class Refused(McpToolError):
    """A call the tool answers with a message for the client (an unknown run, a request too long)."""


def caller_of(ctx: Context) -> Caller:
    request = ctx.request_context.request
    caller = getattr(request, "scope", {}).get(SCOPE_KEY)
    if not isinstance(caller, Caller):  # only reachable through the endpoint, which always sets it
        raise Refused("Not authenticated.")
    return caller


def _user(caller: Caller) -> Any:
    return get_user_model().objects.get(pk=caller.user_id)


def submit_request_as(caller: Caller, request: str) -> dict[str, Any]:
    text = request.strip()
    if not text:
        raise Refused("Give the request to run.")
    if len(text) > MAX_REQUEST_CHARS:
        raise Refused(f"The request is longer than {MAX_REQUEST_CHARS} characters.")
    user = _user(caller)
    workspace = Workspace.objects.for_user(user).get(pk=caller.workspace_id)
    try:
        execution = runs.submit(user=user, workspace=workspace, request_text=text)
    except (PermissionDenied, ValueError) as exc:  # a role that may not run; a plugin refusing the request
        raise Refused(str(exc)) from None
    return {"run_id": str(execution.pk), "status": execution.status}


def run_for(caller: Caller, run_id: str) -> dict[str, Any]:
    try:
        pk = uuid.UUID(run_id)
    except ValueError:
        raise Refused(f"No run {run_id!r} in this workspace.") from None
    execution = (
        Execution.objects.for_user(_user(caller))
        .filter(pk=pk, workspace_id=caller.workspace_id)
        .prefetch_related("steps")
        .first()
    )
    if execution is None:
        raise Refused(f"No run {run_id!r} in this workspace.")
    return dict(ExecutionDetailSerializer(execution).data)


def pending_approvals_for(caller: Caller) -> list[dict[str, Any]]:
    approvals = (
        PendingApproval.objects.for_user(_user(caller))
        .filter(execution__workspace_id=caller.workspace_id, status=ApprovalStatus.PENDING)
        .select_related("step", "resolved_by")
        .order_by("created_at")[:100]
    )
    return [dict(ApprovalSerializer(approval).data) for approval in approvals]


def build_server() -> MCPServer:
    server = MCPServer(
        name="orchestrate",
        instructions=(
            "Submit natural-language requests to an Orchestrate workspace and read their runs. "
            "Critical actions wait for a person in Orchestrate's approvals queue; they cannot be approved here."
        ),
    )

    @server.tool(description="Submit a request to run in this workspace; returns the run's id. Poll it with get_run.")
    async def submit_request(request: str, ctx: Context) -> dict[str, Any]:
        return await sync_to_async(submit_request_as)(caller_of(ctx), request)

    @server.tool(description="One run of this workspace: its status, plan, steps (with outputs) and result.")
    async def get_run(run_id: str, ctx: Context) -> dict[str, Any]:
        return await sync_to_async(run_for)(caller_of(ctx), run_id)

    @server.tool(
        description="The critical actions of this workspace waiting for a person's decision (read only: "
        "people approve or reject them in Orchestrate)."
    )
    async def list_pending_approvals(ctx: Context) -> dict[str, Any]:
        return {"approvals": await sync_to_async(pending_approvals_for)(caller_of(ctx))}

    return server
