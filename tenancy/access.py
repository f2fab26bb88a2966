"""The one place that answers who may see and do what.

`may()` answers "may this user do this action on this resource in this
workspace"; querysets are narrowed to the user's workspaces on the manager,
`Model.objects.for_user(user, action)` (tenancy/scoping.py, where `scope()`
does the same for a queryset built elsewhere). Every view, API endpoint and
consumer goes through these.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet

from tenancy.models import Workspace, WorkspaceMember, WorkspacePermission
from tenancy.roles import ANY_RESOURCE, ROLE_ACTIONS, ResourceType
from tenancy.scoping import scope, workspace_ids

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    AnyUser = AbstractBaseUser | AnonymousUser

__all__ = ["may", "role_of", "scope", "workspace_ids"]


def role_of(user: AnyUser, workspace: Workspace | uuid.UUID | str) -> str | None:
    """The user's role in the workspace, or None when they are not a member."""
    if not user.is_authenticated:
        return None
    workspace_id = workspace.pk if isinstance(workspace, Workspace) else workspace
    return (
        WorkspaceMember.objects.filter(workspace_id=workspace_id, user_id=user.pk)
        .values_list("role", flat=True)
        .first()
    )


def _grants(user: AnyUser, workspace_id: uuid.UUID | str) -> QuerySet[WorkspacePermission]:
    return WorkspacePermission.objects.filter(workspace_id=workspace_id).filter(
        Q(user_id=user.pk) | Q(user__isnull=True)
    )


def may(
    user: AnyUser,
    action: str,
    workspace: Workspace | uuid.UUID | str,
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
