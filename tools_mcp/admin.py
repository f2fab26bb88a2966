from __future__ import annotations

from django.contrib import admin

from tenancy.admin_scoping import ScopedSystemWrittenAdmin
from tools_mcp.models import McpServer


@admin.register(McpServer)
class McpServerAdmin(ScopedSystemWrittenAdmin):
    """Read-only: registering checks the command and URL (tools_mcp.services); the console does that."""

    list_display = ["name", "workspace", "transport", "enabled", "last_discovered_at"]
    list_filter = ["transport", "enabled", "workspace"]
    search_fields = ["name"]
    secret_fields = ["headers_sealed"]
