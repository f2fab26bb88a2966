from __future__ import annotations

from django.contrib import admin

from tenancy.admin_scoping import SuperuserOnlyAdmin
from tools.models import ToolCatalog


@admin.register(ToolCatalog)
class ToolCatalogAdmin(SuperuserOnlyAdmin):
    list_display = ["name", "tool_type", "capabilities", "last_discovered_at"]
    list_filter = ["tool_type"]
    search_fields = ["name"]
