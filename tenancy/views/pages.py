"""One workspace's page, and the one access check every workspace view goes through."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render

from config.http import AuthedRequest
from tenancy.access import may, role_of
from tenancy.forms import AddMemberForm, GrantForm
from tenancy.models import Workspace, WorkspaceMember
from tenancy.roles import Action, Role
from tenancy.services import assignable_roles


def member_workspace(request: AuthedRequest, workspace_id: uuid.UUID) -> Workspace:
    """The workspace if the user belongs to it; a 404 otherwise, so outsiders learn nothing."""
    workspace = Workspace.objects.for_user(request.user).filter(pk=workspace_id).first()
    if workspace is None:
        raise Http404("No such workspace.")
    return workspace


def render_detail(
    request: AuthedRequest,
    workspace: Workspace,
    *,
    status: int = 200,
    add_form: AddMemberForm | None = None,
    grant_form: GrantForm | None = None,
) -> HttpResponse:
    my_role = role_of(request.user, workspace)
    can_manage = may(request.user, Action.MANAGE_MEMBERS, workspace)
    roles = assignable_roles(my_role)
    members = list(
        WorkspaceMember.objects.filter(workspace=workspace).select_related("user").order_by("user__username")
    )
    grants = workspace.permission_grants.select_related("user").order_by("resource_type", "resource_id", "pk")
    pending = list(workspace.invitations.select_related("invited_by")) if can_manage else []
    action_labels = dict(Action.choices)
    context: dict[str, Any] = {
        "workspace": workspace,
        "my_role": Role(my_role).label if my_role else "",
        "can_manage": can_manage,
        "is_owner": my_role == Role.OWNER,
        "assignable_roles": roles,
        "members": members,
        "invitations": pending,
        "grants": [(grant, [action_labels.get(p, p) for p in grant.permissions]) for grant in grants],
        "add_form": add_form or AddMemberForm(roles=roles),
        "grant_form": grant_form or GrantForm(members=members),
    }
    return render(request, "tenancy/detail.html", context, status=status)


@login_required
def workspace_detail(request: AuthedRequest, workspace_id: uuid.UUID) -> HttpResponse:
    return render_detail(request, member_workspace(request, workspace_id))
