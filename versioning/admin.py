from __future__ import annotations

from django.contrib import admin

from tenancy.admin_scoping import ScopedSystemWrittenAdmin, WorkspaceScopedAdmin
from versioning.models import ABTest, ABTestRun, PlanVersion


@admin.register(PlanVersion)
class PlanVersionAdmin(WorkspaceScopedAdmin):
    list_display = ["plan", "version", "created_at"]
    search_fields = ["plan__id", "plan__request"]
    raw_id_fields = ["plan"]


@admin.register(ABTest)
class ABTestAdmin(WorkspaceScopedAdmin):
    list_display = ["name", "workspace", "kind", "status", "winner", "created_at"]
    list_filter = ["status", "kind"]
    search_fields = ["name", "subject"]
    raw_id_fields = ["workspace", "created_by"]


@admin.register(ABTestRun)
class ABTestRunAdmin(ScopedSystemWrittenAdmin):
    list_display = ["test", "execution", "variant", "created_at"]
    list_filter = ["variant"]
    raw_id_fields = ["test", "execution"]
