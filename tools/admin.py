from __future__ import annotations

from django.contrib import admin

from tenancy.admin_scoping import ScopedSystemWrittenAdmin, SuperuserOnlyAdmin
from tools.models import CalendarEvent, ToolCatalog


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
