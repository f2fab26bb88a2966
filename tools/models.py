from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tenancy.scoping import TenantQuerySet


class ToolType(models.TextChoices):
    BUILTIN = "builtin", _("Built-in")
    PLUGIN = "plugin", _("Plugin")
    EXTERNAL = "external", _("External tool server")
    MCP = "mcp", _("MCP server")  # rows kept by the MCP servers' discovery, named mcp.<server>.<tool>


class ToolCatalog(models.Model):
    """A tool the planner may use, what it can do, and when discovery last saw it.

    Built-in and plugin tools belong to the installation (no workspace); a
    tool of an MCP server a workspace registered belongs to that workspace
    only, so its name is unique within the workspace and nobody else sees it.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tool_type = models.CharField(max_length=16, choices=ToolType.choices)
    name = models.CharField(max_length=100)
    workspace = models.ForeignKey(
        "tenancy.Workspace",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="tools",
        help_text="Set for a workspace's own tools (MCP servers); empty for the installation's",
    )
    capabilities = models.JSONField(default=list, help_text='e.g. ["files.search", "files.read"]')
    metadata = models.JSONField(default=dict, blank=True)
    last_discovered_at = models.DateTimeField()

    class Meta:
        db_table = "tool_catalog"
        ordering = ["name"]
        verbose_name = "tool"
        constraints = [
            models.UniqueConstraint(
                fields=["name"], condition=models.Q(workspace__isnull=True), name="tool_catalog_installation_name"
            ),
            models.UniqueConstraint(
                fields=["workspace", "name"],
                condition=models.Q(workspace__isnull=False),
                name="tool_catalog_workspace_name",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class WorkspaceToolSetting(models.Model):
    """A workspace's choice about one tool: switched off there, or its approval waived there.

    No row means the defaults: the tool is enabled and its critical calls need
    approval. Keyed by the tool's catalogue name (not a foreign key) so a
    setting outlives the tool's catalogue row being renamed or a plugin or
    tool server going away and coming back; `tools.services.workspace_tools`
    is the one place that reads these rows.
    """

    workspace_path: ClassVar[str] = "workspace"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey("tenancy.Workspace", on_delete=models.CASCADE, related_name="tool_settings")
    tool_name = models.CharField(max_length=200, help_text="The tool's name in tool_catalog, e.g. email.send")
    enabled = models.BooleanField(default=True, help_text="Off: never planned nor run in this workspace")
    approval_waived = models.BooleanField(
        default=False, help_text="Marked safe: its calls run without asking a person first in this workspace"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        db_table = "workspace_tool_settings"
        ordering = ["tool_name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "tool_name"], name="workspace_tool_setting_unique")]

    def __str__(self) -> str:
        return f"{self.tool_name} in {self.workspace_id}: {'on' if self.enabled else 'off'}"


class CalendarEvent(models.Model):
    """An event on a workspace's built-in calendar (used when no CalDAV server is configured).

    One calendar per workspace, never shared: every query goes through the
    workspace. `name` is the event's name derived from the creating step's
    idempotency key, so a step that runs again replaces its event.
    """

    workspace_path: ClassVar[str] = "workspace"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey("tenancy.Workspace", on_delete=models.CASCADE, related_name="calendar_events")
    name = models.CharField(max_length=100, help_text="Stable per creating step, e.g. orchestrate-<digest>")
    uid = models.CharField(max_length=500)
    summary = models.CharField(max_length=255)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    ical = models.TextField(help_text="The iCalendar object, as a CalDAV server would store it")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        db_table = "calendar_events"
        ordering = ["starts_at", "uid"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="calendar_event_name_per_workspace")]
        indexes = [
            models.Index(fields=["workspace", "starts_at"], name="calendar_event_ws_start_idx"),
            models.Index(fields=["workspace", "uid"], name="calendar_event_ws_uid_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.summary} ({self.starts_at:%Y-%m-%d %H:%M})"


class DeliveryStatus(models.TextChoices):
    PREPARED = "prepared", _("Prepared (nothing handed over yet)")
    SENDING = "sending", _("Handing over (outcome unknown if the worker died here)")
    SENT = "sent", _("Sent")


class EmailDelivery(models.Model):
    """One e-mail a step sends, recorded before and after it is handed to the mail server.

    The row is keyed by the step's idempotency key, so every attempt of a step
    finds the same row: a resumed step reads here whether its message already
    went instead of sending it again. It lives in the database, where members
    cannot write, rather than in the workspace drive, where they can.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    key = models.CharField(max_length=64, help_text="Hash of the step's idempotency key")
    message_id = models.CharField(max_length=255)
    workspace = models.ForeignKey("tenancy.Workspace", on_delete=models.CASCADE, related_name="email_deliveries")
    execution = models.ForeignKey(
        "orchestration.Execution", on_delete=models.SET_NULL, null=True, blank=True, related_name="email_deliveries"
    )
    step_number = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PREPARED)
    output = models.JSONField(default=dict, blank=True, help_text="What the step reported when the message went")
    attempts = models.PositiveIntegerField(default=0, help_text="Hand-overs started")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    workspace_path: ClassVar[str] = "workspace"
    objects = TenantQuerySet.as_manager()

    class Meta:
        db_table = "email_deliveries"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "key"], name="email_delivery_one_per_step"),
            models.CheckConstraint(
                condition=models.Q(status__in=DeliveryStatus.values), name="email_delivery_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} ({self.status})"
