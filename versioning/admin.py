from __future__ import annotations

from django.contrib import admin

from tenancy.admin_scoping import SuperuserOnlyAdmin, WorkspaceScopedAdmin
from versioning.models import ABTest, PlanVersion


@admin.register(PlanVersion)
class PlanVersionAdmin(WorkspaceScopedAdmin):
    list_display = ["plan", "version", "created_at"]
    search_fields = ["plan__id", "plan__request"]
    raw_id_fields = ["plan"]


@admin.register(ABTest)
class ABTestAdmin(SuperuserOnlyAdmin):
    list_display = ["name", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["name"]
