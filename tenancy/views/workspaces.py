from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from config.http import AuthedRequest
from tenancy import invitations, services
from tenancy.forms import CreateWorkspaceForm, SwitchWorkspaceForm
from tenancy.middleware import choose_workspace
from tenancy.models import WorkspaceMember


def _list_page(request: AuthedRequest, form: CreateWorkspaceForm | None = None, status: int = 200) -> HttpResponse:
    memberships = WorkspaceMember.objects.filter(user=request.user).select_related("workspace")
    context = {
        "memberships": memberships,
        "invitations": invitations.pending_for(request.user),
        "create_form": form or CreateWorkspaceForm(),
    }
    return render(request, "tenancy/list.html", context, status=status)


@login_required
def workspace_list(request: AuthedRequest) -> HttpResponse:
    return _list_page(request)


@require_POST
@login_required
def create_workspace(request: AuthedRequest) -> HttpResponse:
    """Any signed-in user may create a workspace; they become its owner (see tenancy.services)."""
    form = CreateWorkspaceForm(request.POST)
    if form.is_valid():
        try:
            workspace = services.create_workspace(request.user, form.cleaned_data["name"])
        except services.MembershipError as exc:
            form.add_error("name", exc.message)
        else:
            messages.success(request, _("Created %(name)s; you are its owner.") % {"name": workspace.name})
            return redirect("tenancy:detail", workspace_id=workspace.pk)
    return _list_page(request, form, status=400)


@require_POST
@login_required
def switch_workspace(request: AuthedRequest) -> HttpResponse:
    form = SwitchWorkspaceForm(request.POST, user=request.user)
    if not form.is_valid():
        messages.error(request, " ".join(map(str, form.errors.get("workspace", [_("Choose a workspace.")]))))
        return redirect("tenancy:list")
    workspace = form.cleaned_data["workspace"]
    choose_workspace(request, workspace)
    messages.success(request, _("Now working in %(name)s.") % {"name": workspace.name})
    next_url = form.cleaned_data["next"]
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        return redirect("orchestration:index")
    return redirect(next_url)
