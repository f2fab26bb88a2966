from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from tenancy.admin_scoping import StaffReadOnlyInline, SuperuserOnlyAdmin, WorkspaceScopedAdmin
from tenancy.models import (
    ApiToken,
    LoginThrottle,
    UserPreference,
    Workspace,
    WorkspaceInvitation,
    WorkspaceMember,
    WorkspacePermission,
)
from tenancy.roles import Action


class WorkspaceMemberInline(StaffReadOnlyInline):
    model = WorkspaceMember
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Workspace)
class WorkspaceAdmin(WorkspaceScopedAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]
    inlines = [WorkspaceMemberInline]
    delete_action = Action.DELETE_WORKSPACE
    secret_fields = ["integrations"]  # CalDAV passwords

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Staff create workspaces in the console, where they become the owner.
        return request.user.is_superuser


@admin.register(WorkspaceMember)
class WorkspaceMemberAdmin(WorkspaceScopedAdmin):
    list_display = ["user", "workspace", "role", "created_at"]
    list_filter = ["role", "workspace"]
    search_fields = ["user__username", "user__email", "workspace__name"]
    autocomplete_fields = ["user"]
    read_only_for_staff = True  # the console keeps the owner rules and invites people


@admin.register(WorkspacePermission)
class WorkspacePermissionAdmin(WorkspaceScopedAdmin):
    list_display = ["workspace", "user", "resource_type", "resource_id", "permissions"]
    list_filter = ["resource_type", "workspace"]
    search_fields = ["user__username", "resource_id"]
    read_only_for_staff = True  # the console checks that a grant gives only what the granter has


@admin.register(WorkspaceInvitation)
class WorkspaceInvitationAdmin(WorkspaceScopedAdmin):
    list_display = ["identifier", "workspace", "role", "invited_by", "created_at"]
    list_filter = ["role", "workspace"]
    search_fields = ["identifier"]
    read_only_for_staff = True  # invitations are made and answered in the console

    def get_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        # Staff see what the inviter typed, never which account (if any) it matched.
        fields = super().get_fields(request, obj)
        return fields if request.user.is_superuser else [name for name in fields if name != "user"]


@admin.register(UserPreference)
class UserPreferenceAdmin(SuperuserOnlyAdmin):
    """The language each person chose in the navigation (they change it there)."""

    list_display = ["user", "language", "updated_at"]
    search_fields = ["user__username"]
    readonly_fields = ["user", "updated_at"]


@admin.register(LoginThrottle)
class LoginThrottleAdmin(SuperuserOnlyAdmin):
    """Failed-login counts and locks; delete a row to unlock that username or address at once."""

    list_display = ["key", "failures", "first_failure_at", "last_failure_at", "locked_until"]
    search_fields = ["key"]
    readonly_fields = ["key", "failures", "first_failure_at", "last_failure_at", "locked_until"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


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
