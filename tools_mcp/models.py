from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from tenancy.scoping import TenantQuerySet


class Transport(models.TextChoices):
    STDIO = "stdio", "Command on this host (stdio)"
    HTTP = "http", "Streamable HTTP URL"


# No dots: the server's name is the middle part of its tools' names, mcp.<server>.<tool>.
SERVER_NAME = RegexValidator(r"^[a-z0-9][a-z0-9_-]{0,39}$", "Lower-case letters, digits, - and _ (up to 40).")


class McpServer(models.Model):
    """An MCP server a workspace registered: how to reach it, and what discovery last found.

    Its tools are rows of `tool_catalog` (tool_type "mcp", named
    `mcp.<name>.<tool>`, owned by the workspace). A stdio server runs a
    command the installation allows (ORCHESTRATE_MCP_STDIO_COMMANDS); an
    HTTP server is reached through the SSRF guard. Headers (an API key) are
    sealed (`tenancy.secrets`) and never shown back.
    """

    workspace_path: ClassVar[str] = "workspace"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey("tenancy.Workspace", on_delete=models.CASCADE, related_name="mcp_servers")
    name = models.CharField(max_length=40, validators=[SERVER_NAME])
    transport = models.CharField(max_length=8, choices=Transport.choices)
    command = models.CharField(max_length=1000, blank=True, help_text="stdio: the command line, e.g. mcp-server-git")
    url = models.URLField(max_length=500, blank=True, help_text="http: the server's MCP endpoint")
    headers_sealed = models.TextField(blank=True, help_text="Sealed JSON object of HTTP headers (tenancy.secrets)")
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_discovered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, help_text="Why the last discovery failed; empty when it worked")

    objects = TenantQuerySet.as_manager()

    class Meta:
        db_table = "mcp_servers"
        ordering = ["workspace__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="mcp_server_name_per_workspace"),
            models.CheckConstraint(condition=models.Q(transport__in=Transport.values), name="mcp_server_transport"),
        ]
        indexes = [models.Index(fields=["last_discovered_at"], name="mcp_server_discovered_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_transport_display()})"

    @property
    def tool_prefix(self) -> str:
        return f"mcp.{self.name}."
