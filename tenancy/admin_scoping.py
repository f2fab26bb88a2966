"""Admin base classes that keep staff inside their workspaces and their roles.

Superusers run the installation and see and change every row. Other staff
need both Django's model permission and, for each row, the workspace role
that allows it:

- they see only rows of workspaces they belong to (through the same
  `scope()` the console uses), and only those workspaces in foreign-key
  menus and in list filters, so no other tenant's ids or names show;
- they change, add or delete a row only with `change_action` (by default
  `manage_settings`: admins and owners) in that row's workspace, and may
  only pick workspaces where they have it; a viewer or operator is read-only;
- rows whose rules live in a service (members, grants, approvals: the last
  owner, owners-only, grant-only-what-you-have, a decision that resumes the
  run) are read-only for them: those changes go through the console;
- fields listed in `secret_fields` (integration passwords, signing secrets)
  are never shown to them at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import ForeignKey, Model, QuerySet
from django.http import HttpRequest

from tenancy.access import may, scope, workspace_ids
from tenancy.models import WorkspaceMember
from tenancy.roles import Action

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise


def workspace_id_of(obj: Model) -> object:
    """The workspace id a tenant-owned row belongs to, by following its `workspace_path`."""
    path: str = obj.workspace_path  # type: ignore[attr-defined]  # every tenant-owned model declares it
    if path == "id":
        return obj.pk
    *hops, last = path.split("__")
    target: Any = obj
    for hop in hops:
        target = getattr(target, hop)
        if target is None:
            return None
    return getattr(target, f"{last}_id")


class ScopedRelatedFieldListFilter(admin.RelatedFieldListFilter):
    """A related-field filter that offers only rows the user may see (no other tenant's names or ids)."""

    def field_choices(
        self, field: Any, request: HttpRequest, model_admin: admin.ModelAdmin
    ) -> list[tuple[str, str | StrPromise]]:
        related: type[Model] = field.related_model
        if request.user.is_superuser:
            return super().field_choices(field, request, model_admin)
        if hasattr(related, "workspace_path"):
            rows = scope(related._default_manager.all(), request.user)
        elif related is get_user_model():
            rows = related._default_manager.filter(pk__in=_co_member_ids(request.user))
        else:
            return super().field_choices(field, request, model_admin)
        return [(str(row.pk), str(row)) for row in rows]


def _co_member_ids(user: Any, action: str = Action.VIEW) -> QuerySet[Any]:
    """Users who share a workspace (where `user` may take `action`) with `user`."""
    return WorkspaceMember.objects.filter(workspace_id__in=workspace_ids(user, action)).values("user_id")


class WorkspaceScopedAdmin(admin.ModelAdmin):
    change_action: ClassVar[str] = Action.MANAGE_SETTINGS
    delete_action: ClassVar[str | None] = None  # defaults to change_action
    # Only superusers change these rows here; everyone else goes through the console's rules.
    read_only_for_staff: ClassVar[bool] = False
    secret_fields: ClassVar[list[str]] = []

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return scope(queryset, request.user)

    def _role_allows(self, request: HttpRequest, action: str, obj: Model | None) -> bool:
        if request.user.is_superuser:
            return True
        if self.read_only_for_staff:
            return False
        if obj is None:
            return bool(workspace_ids(request.user, action))
        workspace_id = workspace_id_of(obj)
        return workspace_id is not None and may(request.user, action, str(workspace_id))

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if not super().has_view_permission(request, obj):
            return False
        return obj is None or request.user.is_superuser or self._visible(request, obj)

    def _visible(self, request: HttpRequest, obj: Model) -> bool:
        workspace_id = workspace_id_of(obj)
        return workspace_id is not None and may(request.user, Action.VIEW, str(workspace_id))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and self._role_allows(request, self.change_action, None)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return super().has_change_permission(request, obj) and self._role_allows(request, self.change_action, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        action = self.delete_action or self.change_action
        return super().has_delete_permission(request, obj) and self._role_allows(request, action, obj)

    def get_exclude(self, request: HttpRequest, obj: Model | None = None) -> Any:
        excluded = list(super().get_exclude(request, obj) or [])
        if not request.user.is_superuser:
            excluded += [name for name in self.secret_fields if name not in excluded]
        return excluded or None

    def get_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        fields = super().get_fields(request, obj)
        if request.user.is_superuser:
            return fields
        return [name for name in fields if name not in self.secret_fields]

    def get_list_display(self, request: HttpRequest) -> Any:
        shown = super().get_list_display(request)
        return shown if request.user.is_superuser else [name for name in shown if name not in self.secret_fields]

    def get_autocomplete_fields(self, request: HttpRequest) -> Any:
        # Autocomplete asks another admin's search for choices; staff get the scoped menu instead.
        return super().get_autocomplete_fields(request) if request.user.is_superuser else ()

    def get_list_filter(self, request: HttpRequest) -> Any:
        filters = []
        for item in super().get_list_filter(request):
            if isinstance(item, str) and "__" not in item:
                field = self.model._meta.get_field(item)
                if field.is_relation:
                    item = (item, ScopedRelatedFieldListFilter)
            filters.append(item)
        return filters

    def formfield_for_foreignkey(self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any) -> Any:
        related: type[Model] = db_field.related_model
        if not request.user.is_superuser:
            if hasattr(related, "workspace_path"):
                # Only where the user may make this change: a row can't be moved to (or made in)
                # a workspace where they may only look.
                kwargs["queryset"] = scope(related._default_manager.all(), request.user, self.change_action)
            elif related is get_user_model():
                kwargs["queryset"] = related._default_manager.filter(
                    pk__in=_co_member_ids(request.user, self.change_action)
                )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class StaffReadOnlyInline(admin.TabularInline):
    """An inline that only superusers may change."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.is_superuser and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.is_superuser and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.is_superuser and super().has_delete_permission(request, obj)


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
