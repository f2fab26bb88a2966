"""Workspace scoping on the manager: `Model.objects.for_user(user, action)`.

Every tenant-owned model (a row that reaches one workspace, directly or
through its execution) declares the path from its rows to their workspace
in `workspace_path` and uses `TenantQuerySet` as its manager:

    class Execution(models.Model):
        workspace_path: ClassVar[str] = "workspace"
        objects = TenantQuerySet.as_manager()

    Execution.objects.for_user(request.user).filter(pk=execution_id).first()
    PendingApproval.objects.for_user(user, Action.APPROVE)

A queryset a user can reach that does not start with `.for_user(` is then
visible in review. `scope()` is the same filter for a queryset built
elsewhere (the admin's, a related manager's).

The member and grant models are looked up through the app registry, not
imported: the tenancy models themselves use this queryset.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Self, TypeVar

from django.apps import apps
from django.db.models import Model, Q, QuerySet

from tenancy.roles import ROLE_ACTIONS, Action, ResourceType

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    from tenancy.models import WorkspaceMember, WorkspacePermission

    AnyUser = AbstractBaseUser | AnonymousUser

_M = TypeVar("_M", bound=Model)
_Q = TypeVar("_Q", bound=QuerySet[Any])


def _members() -> type[WorkspaceMember]:
    return apps.get_model("tenancy", "WorkspaceMember")


def _grants() -> type[WorkspacePermission]:
    return apps.get_model("tenancy", "WorkspacePermission")


def workspace_ids(user: AnyUser, action: str = Action.VIEW) -> set[uuid.UUID]:
    """Ids of the workspaces where the user may take `action` workspace-wide (role, or a workspace grant)."""
    if not user.is_authenticated:
        return set()
    memberships: dict[uuid.UUID, str] = dict(
        _members().objects.filter(user_id=user.pk).values_list("workspace_id", "role")
    )
    allowed = {ws for ws, role in memberships.items() if action in ROLE_ACTIONS[role]}
    if len(allowed) < len(memberships):
        wide_grants = _grants().objects.filter(
            Q(user_id=user.pk) | Q(user__isnull=True),
            workspace_id__in=set(memberships) - allowed,
            resource_type=ResourceType.WORKSPACE,
        )
        allowed |= {grant.workspace_id for grant in wide_grants if action in grant.permissions}
    return allowed


def scope(queryset: _Q, user: AnyUser, action: str = Action.VIEW) -> _Q:
    """Narrow `queryset` to rows in workspaces where the user may take `action`.

    A model without `workspace_path` is not tenant-owned and cannot be
    scoped, which is a programming error, not an empty result.
    """
    path = getattr(queryset.model, "workspace_path", None)
    if path is None:
        raise TypeError(f"{queryset.model.__name__} has no workspace_path and cannot be scoped to a user")
    if not user.is_authenticated:
        return queryset.none()
    lookup = f"{path}__in"
    if action == Action.VIEW:
        member_of = _members().objects.filter(user_id=user.pk).values("workspace_id")
        return queryset.filter(**{lookup: member_of})
    return queryset.filter(**{lookup: workspace_ids(user, action)})


class TenantQuerySet(QuerySet[_M]):
    """The queryset of every tenant-owned model; see the module's docstring."""

    def for_user(self, user: AnyUser, action: str = Action.VIEW) -> Self:
        """The rows in workspaces where `user` may take `action` (viewing, by default); none for anonymous."""
        return scope(self, user, action)
