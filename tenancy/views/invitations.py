"""Answering invitations, cancelling them, and leaving a workspace; the rules are in tenancy.invitations."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from config.http import AuthedRequest
from tenancy import invitations
from tenancy.models import WorkspaceMember
from tenancy.roles import Role
from tenancy.services import MembershipError
from tenancy.views.pages import member_workspace, render_detail


@require_POST
@login_required
def accept_invitation(request: AuthedRequest, invitation_id: uuid.UUID) -> HttpResponse:
    try:
        member = invitations.accept(request.user, invitation_id)
    except MembershipError as exc:
        messages.error(request, exc.message)
    else:
        role = Role(member.role).label.lower()
        messages.success(
            request,
            _("You joined %(name)s as %(role)s. Choose “Work here” when you want to work in it.")
            % {"name": member.workspace.name, "role": role},
        )
    return redirect("tenancy:list")


@require_POST
@login_required
def decline_invitation(request: AuthedRequest, invitation_id: uuid.UUID) -> HttpResponse:
    try:
        invitation = invitations.decline(request.user, invitation_id)
    except MembershipError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Declined the invitation to %(name)s.") % {"name": invitation.workspace.name})
    return redirect("tenancy:list")


@require_POST
@login_required
def cancel_invitation(request: AuthedRequest, workspace_id: uuid.UUID, invitation_id: uuid.UUID) -> HttpResponse:
    workspace = member_workspace(request, workspace_id)
    try:
        invitation = invitations.cancel(request.user, workspace, invitation_id)
    except PermissionDenied as exc:
        messages.error(request, str(exc))
        return render_detail(request, workspace, status=403)
    except MembershipError as exc:
        messages.error(request, exc.message)
        return render_detail(request, workspace, status=400)
    messages.success(request, _("Cancelled the invitation of %(who)s.") % {"who": invitation.identifier})
    return redirect("tenancy:detail", workspace_id=workspace.pk)


@require_http_methods(["GET", "POST"])
@login_required
def leave_workspace(request: AuthedRequest, workspace_id: uuid.UUID) -> HttpResponse:
    """GET asks for confirmation (works without JavaScript), POST leaves."""
    workspace = member_workspace(request, workspace_id)
    if request.method == "GET":
        member = WorkspaceMember.objects.get(workspace=workspace, user_id=request.user.pk)
        return render(request, "tenancy/leave.html", {"workspace": workspace, "member": member})
    try:
        invitations.leave(request.user, workspace)
    except MembershipError as exc:
        messages.error(request, exc.message)
        return render_detail(request, workspace, status=400)
    messages.success(request, _("You left %(name)s.") % {"name": workspace.name})
    return redirect("tenancy:list")
