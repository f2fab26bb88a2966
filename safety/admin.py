from __future__ import annotations

from django.contrib import admin

from safety.models import PendingApproval, RateLimit, ResourceLock
from tenancy.admin_scoping import SuperuserOnlyAdmin, WorkspaceScopedAdmin


@admin.register(PendingApproval)
class PendingApprovalAdmin(WorkspaceScopedAdmin):
    list_display = ["action_type", "execution", "status", "created_at", "resolved_at", "resolved_by"]
    list_filter = ["status", "action_type"]
    search_fields = ["action_type", "reason", "execution__id"]
    raw_id_fields = ["execution"]
    # Decisions go through the approvals queue, which resumes the run;
    # an edit here would change the row without telling the engine.
    readonly_fields = ["status", "resolved_at", "resolved_by"]
    read_only_for_staff = True


@admin.register(ResourceLock)
class ResourceLockAdmin(SuperuserOnlyAdmin):
    list_display = ["resource_id", "locked_by", "locked_at", "expires_at"]
    search_fields = ["resource_id", "locked_by"]


@admin.register(RateLimit)
class RateLimitAdmin(SuperuserOnlyAdmin):
    list_display = ["integration", "operation", "window_start", "request_count"]
    list_filter = ["integration", "operation"]
    date_hierarchy = "window_start"
