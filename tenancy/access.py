"""The one place that answers who may see and do what.

`may()` answers "may this user do this action on this resource in this
workspace"; `scope()` narrows any queryset to the workspaces a user belongs
to. Every view, API endpoint and consumer goes through these two.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from django.db.models import Model, Q, QuerySet

from tenancy.models import Workspace, WorkspaceMember, WorkspacePermission
from tenancy.roles import ANY_RESOURCE, ROLE_ACTIONS, Action, ResourceType

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    AnyUser = AbstractBaseUser | AnonymousUser

M = TypeVar("M", bound=Model)


def role_of(user: AnyUser, workspace: Workspace | str) -> str | None:
    """The user's role in the workspace, or None when they are not a member."""
    if not user.is_authenticated:
        return None
    workspace_id = workspace.pk if isinstance(workspace, Workspace) else workspace
    return (
        WorkspaceMember.objects.filter(workspace_id=workspace_id, user_id=user.pk)
        .values_list("role", flat=True)
        .first()
    )


def _grants(user: AnyUser, workspace_id: object) -> QuerySet[WorkspacePermission]:
    return WorkspacePermission.objects.filter(workspace_id=workspace_id).filter(
        Q(user_id=user.pk) | Q(user__isnull=True)
    )


def may(
    user: AnyUser,
    action: str,
    workspace: Workspace | str,
    resource_type: str = ResourceType.WORKSPACE,
    resource_id: str | None = None,
) -> bool:
    """Whether the user may take `action` on the resource in the workspace.

    Members only: the role decides first, then grants for this resource,
    for every resource of its type, or for the whole workspace may add the
    action.
    """
    role = role_of(user, workspace)
    if role is None:
        return False
    if action in ROLE_ACTIONS[role]:
        return True
    workspace_id = workspace.pk if isinstance(workspace, Workspace) else workspace
    matching = Q(resource_type=ResourceType.WORKSPACE) | Q(
        resource_type=resource_type, resource_id__in=[ANY_RESOURCE, str(resource_id or ANY_RESOURCE)]
    )
    return any(action in grant.permissions for grant in _grants(user, workspace_id).filter(matching))


def workspace_ids(user: AnyUser, action: str = Action.VIEW) -> set[object]:
    """Ids of the workspaces where the user may take `action` workspace-wide."""
    if not user.is_authenticated:
        return set()
    memberships = dict(WorkspaceMember.objects.filter(user_id=user.pk).values_list("workspace_id", "role"))
    allowed = {ws for ws, role in memberships.items() if action in ROLE_ACTIONS[role]}
    if len(allowed) < len(memberships):
        wide_grants = WorkspacePermission.objects.filter(
            Q(user_id=user.pk) | Q(user__isnull=True),
            workspace_id__in=set(memberships) - allowed,
            resource_type=ResourceType.WORKSPACE,
        )
        allowed |= {grant.workspace_id for grant in wide_grants if action in grant.permissions}
    return allowed


def workspaces_for(user: AnyUser, action: str = Action.VIEW) -> QuerySet[Workspace]:
    if action == Action.VIEW:
        return scope(Workspace.objects.all(), user)
    return Workspace.objects.filter(pk__in=workspace_ids(user, action))


def scope(queryset: QuerySet[M], user: AnyUser, action: str = Action.VIEW) -> QuerySet[M]:
    """Narrow `queryset` to rows in workspaces where the user may take `action`.

    The model names the path from its rows to their workspace in
    `workspace_path` (e.g. "execution__workspace"); a model without one is
    not tenant-owned and cannot be scoped, which is a programming error.
    """
    path = getattr(queryset.model, "workspace_path", None)
    if path is None:
        raise TypeError(f"{queryset.model.__name__} has no workspace_path and cannot be scoped to a user")
    if not user.is_authenticated:
        return queryset.none()
    lookup = f"{path}__in"
    if action == Action.VIEW:
        member_of = WorkspaceMember.objects.filter(user_id=user.pk).values("workspace_id")
        return queryset.filter(**{lookup: member_of})
    return queryset.filter(**{lookup: workspace_ids(user, action)})
