from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from tenancy.admin_scoping import WorkspaceScopedAdmin
from tenancy.models import ApiToken, Workspace, WorkspaceMember, WorkspacePermission


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


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Superusers see every person's tokens and may revoke them; tokens are made on the Tokens page only."""

    list_display = ["name", "user", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "user__username", "prefix"]
    fields = ["name", "user", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
    readonly_fields = ["name", "user", "prefix", "created_at", "expires_at", "last_used_at"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return bool(request.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return bool(request.user.is_superuser)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
