from __future__ import annotations

from django.contrib import admin

from tenancy.admin_scoping import ScopedSystemWrittenAdmin, SuperuserOnlyAdmin, WorkspaceScopedAdmin
from tools.models import CalendarEvent, EmailDelivery, ToolCatalog, WorkspaceToolSetting


@admin.register(ToolCatalog)
class ToolCatalogAdmin(SuperuserOnlyAdmin):
    list_display = ["name", "tool_type", "capabilities", "last_discovered_at"]
    list_filter = ["tool_type"]
    search_fields = ["name"]


@admin.register(CalendarEvent)
class CalendarEventAdmin(ScopedSystemWrittenAdmin):
    """Events of the built-in calendars: written by the calendar tools, read here."""

    list_display = ["summary", "workspace", "starts_at", "ends_at", "uid"]
    list_filter = ["workspace"]
    search_fields = ["summary", "uid"]


@admin.register(EmailDelivery)
class EmailDeliveryAdmin(ScopedSystemWrittenAdmin):
    """Read-only: the record is what keeps a resumed step from sending twice."""

    list_display = ["message_id", "workspace", "execution", "step_number", "status", "attempts", "sent_at"]
    list_filter = ["status"]
    search_fields = ["message_id", "execution__id"]
    raw_id_fields = ["execution"]


@admin.register(WorkspaceToolSetting)
class WorkspaceToolSettingAdmin(WorkspaceScopedAdmin):
    """A workspace's tools switched off or marked safe; owners and admins change them (also on the catalogue page)."""

    list_display = ["tool_name", "workspace", "enabled", "approval_waived", "updated_by", "updated_at"]
    list_filter = ["enabled", "approval_waived", "workspace"]
    search_fields = ["tool_name"]
    readonly_fields = ["updated_by", "updated_at"]
