"""Inviting, re-roling and removing members; the rules are in tenancy.services and tenancy.invitations."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from config.http import AuthedRequest
from tenancy import invitations, services
from tenancy.access import may, role_of
from tenancy.forms import AddMemberForm, ChangeRoleForm
from tenancy.models import Workspace, WorkspaceMember
from tenancy.roles import Action, Role
from tenancy.views.pages import member_workspace, render_detail


def _refused(request: AuthedRequest, workspace: Workspace, exc: Exception, status: int) -> HttpResponse:
    messages.error(request, getattr(exc, "message", None) or str(exc))
    return render_detail(request, workspace, status=status)


@require_POST
@login_required
def add_member(request: AuthedRequest, workspace_id: uuid.UUID) -> HttpResponse:
    """Invites: the person joins when they accept. The answer is the same whether or not they have an account."""
    workspace = member_workspace(request, workspace_id)
    form = AddMemberForm(request.POST, roles=services.assignable_roles(role_of(request.user, workspace)))
    if form.is_valid():
        try:
            invitation = invitations.invite(
                request.user, workspace, form.cleaned_data["user"], form.cleaned_data["role"]
            )
        except PermissionDenied as exc:
            return _refused(request, workspace, exc, 403)
        except services.MembershipError as exc:
            form.add_error("user", exc.message)
        else:
            role = Role(invitation.role).label.lower()
            messages.success(
                request,
                _(
                    "If “%(who)s” has an account here, they are invited as %(role)s. "
                    "They join once they accept the invitation."
                )
                % {"who": invitation.identifier, "role": role},
            )
            return redirect("tenancy:detail", workspace_id=workspace.pk)
    elif not may(request.user, Action.MANAGE_MEMBERS, workspace):
        return _refused(request, workspace, PermissionDenied(services.NOT_A_MANAGER), 403)
    return render_detail(request, workspace, add_form=form, status=400)


@require_POST
@login_required
def change_role(request: AuthedRequest, workspace_id: uuid.UUID, member_id: int) -> HttpResponse:
    workspace = member_workspace(request, workspace_id)
    form = ChangeRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a role."))
        return render_detail(request, workspace, status=400)
    try:
        member = services.change_role(request.user, workspace, member_id, form.cleaned_data["role"])
    except PermissionDenied as exc:
        return _refused(request, workspace, exc, 403)
    except services.MembershipError as exc:
        return _refused(request, workspace, exc, 400)
    role = Role(member.role).label.lower()
    messages.success(request, _("%(who)s is now %(role)s.") % {"who": member.user.get_username(), "role": role})
    return redirect("tenancy:detail", workspace_id=workspace.pk)


@require_http_methods(["GET", "POST"])
@login_required
def remove_member(request: AuthedRequest, workspace_id: uuid.UUID, member_id: int) -> HttpResponse:
    """GET asks for confirmation (works without JavaScript), POST removes."""
    workspace = member_workspace(request, workspace_id)
    if request.method == "GET":
        if not may(request.user, Action.MANAGE_MEMBERS, workspace):
            return _refused(request, workspace, PermissionDenied(services.NOT_A_MANAGER), 403)
        member = get_object_or_404(WorkspaceMember.objects.select_related("user"), workspace=workspace, pk=member_id)
        return render(request, "tenancy/remove_member.html", {"workspace": workspace, "member": member})
    try:
        member = services.remove_member(request.user, workspace, member_id)
    except PermissionDenied as exc:
        return _refused(request, workspace, exc, 403)
    except services.MembershipError as exc:
        return _refused(request, workspace, exc, 400)
    messages.success(
        request, _("Removed %(who)s from %(name)s.") % {"who": member.user.get_username(), "name": workspace.name}
    )
    if member.user_id == request.user.pk:
        return redirect("tenancy:list")
    return redirect("tenancy:detail", workspace_id=workspace.pk)
