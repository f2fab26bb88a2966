from __future__ import annotations

from django.contrib import admin

from tenancy.admin_scoping import WorkspaceScopedAdmin
from tenancy.models import Workspace, WorkspaceMember, WorkspacePermission


class WorkspaceMemberInline(admin.TabularInline):
    model = WorkspaceMember
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Workspace)
class WorkspaceAdmin(WorkspaceScopedAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]
    inlines = [WorkspaceMemberInline]


@admin.register(WorkspaceMember)
class WorkspaceMemberAdmin(WorkspaceScopedAdmin):
    list_display = ["user", "workspace", "role", "created_at"]
    list_filter = ["role", "workspace"]
    search_fields = ["user__username", "user__email", "workspace__name"]
    autocomplete_fields = ["user"]


@admin.register(WorkspacePermission)
class WorkspacePermissionAdmin(WorkspaceScopedAdmin):
    list_display = ["workspace", "user", "resource_type", "resource_id", "permissions"]
    list_filter = ["resource_type", "workspace"]
    search_fields = ["user__username", "resource_id"]
