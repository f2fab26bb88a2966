"""Admin base classes that keep staff inside their workspaces.

Superusers run the installation and see every row. Other staff see, and
may pick in foreign-key menus, only rows of workspaces they belong to,
through the same scoping function the console uses.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import ForeignKey, Model, QuerySet
from django.http import HttpRequest

from tenancy.access import scope


class WorkspaceScopedAdmin(admin.ModelAdmin):
    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return scope(queryset, request.user)

    def formfield_for_foreignkey(self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any) -> Any:
        related: type[Model] = db_field.related_model
        if not request.user.is_superuser and hasattr(related, "workspace_path"):
            kwargs["queryset"] = scope(related._default_manager.all(), request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class SystemWrittenAdmin(admin.ModelAdmin):
    """Rows the system writes (logs, traces, metrics, checkpoints): look, never touch."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class ScopedSystemWrittenAdmin(SystemWrittenAdmin, WorkspaceScopedAdmin):
    pass


class SuperuserOnlyAdmin(admin.ModelAdmin):
    """Installation-wide rows (not owned by one workspace): superusers only."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.is_superuser

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.is_superuser
