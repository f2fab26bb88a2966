"""The MCP server pages: the workspace's servers (register one), one server (its tools, safe marks).

Thin: access and the work are in `tools_mcp.services`. Headers are never
rendered back; a refresh answers with what discovery found.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from config.http import AuthedRequest
from tools_mcp import services
from tools_mcp.forms import SafeToolsForm, ServerForm
from tools_mcp.marking import safe_tools
from tools_mcp.models import McpServer


def _server(request: AuthedRequest, server_id: uuid.UUID) -> McpServer:
    server = services.visible_servers(request.user).filter(pk=server_id).first()
    if server is None:
        raise Http404("No such MCP server.")
    return server


def _report(request: AuthedRequest, report: services.discovery.Refreshed) -> None:
    if report.error:
        messages.error(request, f"Discovery failed: {report.error}")
    else:
        skipped = f" Skipped: {'; '.join(report.skipped)}." if report.skipped else ""
        messages.success(request, f"Discovered {report}.{skipped}")


@login_required
@require_http_methods(["GET", "POST"])
def server_list(request: AuthedRequest) -> HttpResponse:
    """The MCP servers of the user's workspaces; POST registers one in the current workspace."""
    workspace = request.workspace
    may_manage = workspace is not None and services.may_manage(request.user, workspace)
    form = ServerForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if workspace is None:
            raise Http404("No current workspace.")
        services.require_manage(request.user, workspace)
        if form.is_valid():
            try:
                server, report = services.register(
                    request.user,
                    workspace,
                    name=form.cleaned_data["name"],
                    transport=form.cleaned_data["transport"],
                    command=form.cleaned_data["command"],
                    url=form.cleaned_data["url"],
                    headers=form.cleaned_data["headers"],
                )
            except services.ServerInvalid as exc:
                form.add_error(None, str(exc))
            else:
                _report(request, report)
                return redirect("tools_mcp:detail", server_id=server.pk)
    servers = services.visible_servers(request.user).order_by("workspace__name", "name")
    context = {"servers": servers, "form": form, "may_manage": may_manage}
    return render(request, "tools_mcp/list.html", context, status=400 if form.is_bound else 200)


@login_required
@require_http_methods(["GET", "POST"])
def server_detail(request: AuthedRequest, server_id: uuid.UUID) -> HttpResponse:
    """The server and its tools; POST saves which tools are safe (run without approval)."""
    server = _server(request, server_id)
    tools = list(services.tools_of(server))
    form = SafeToolsForm(tools, safe_tools(server), request.POST if request.method == "POST" else None)
    if request.method == "POST":
        services.require_manage(request.user, server.workspace_id)
        if form.is_valid():
            services.mark_safe(request.user, server, form.safe_names())
            messages.success(request, "Saved which tools run without approval.")
            return redirect("tools_mcp:detail", server_id=server.pk)
    context = {
        "server": server,
        "tools": [(row, form[row.name]) for row in tools],
        "form": form,
        "may_manage": services.may_manage(request.user, server.workspace_id),
        "has_headers": bool(server.headers_sealed),
    }
    return render(request, "tools_mcp/detail.html", context, status=400 if form.is_bound else 200)


@login_required
@require_POST
def refresh(request: AuthedRequest, server_id: uuid.UUID) -> HttpResponse:
    server = _server(request, server_id)
    _report(request, services.refresh(request.user, server))
    return redirect("tools_mcp:detail", server_id=server.pk)


@login_required
@require_POST
def toggle(request: AuthedRequest, server_id: uuid.UUID) -> HttpResponse:
    server = _server(request, server_id)
    services.set_enabled(request.user, server, not server.enabled)
    messages.success(request, f"{server.name} is {'enabled' if server.enabled else 'disabled'}.")
    return redirect("tools_mcp:detail", server_id=server.pk)


@login_required
@require_POST
def delete(request: AuthedRequest, server_id: uuid.UUID) -> HttpResponse:
    server = _server(request, server_id)
    services.delete(request.user, server)
    messages.success(request, f"Removed the MCP server {server.name} and its tools; past runs are kept.")
    return redirect("tools_mcp:list")
