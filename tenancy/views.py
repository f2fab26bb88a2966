from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from tenancy.forms import SwitchWorkspaceForm
from tenancy.middleware import choose_workspace
from tenancy.models import WorkspaceMember


@login_required
def workspace_list(request: HttpRequest) -> HttpResponse:
    memberships = WorkspaceMember.objects.filter(user=request.user).select_related("workspace")
    return render(request, "tenancy/list.html", {"memberships": memberships})


@require_POST
@login_required
def switch_workspace(request: HttpRequest) -> HttpResponse:
    form = SwitchWorkspaceForm(request.POST, user=request.user)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("workspace", ["Choose a workspace."])))
        return redirect("tenancy:list")
    workspace = form.cleaned_data["workspace"]
    choose_workspace(request, workspace)
    messages.success(request, f"Now working in {workspace.name}.")
    next_url = form.cleaned_data["next"]
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        return redirect("orchestration:index")
    return redirect(next_url)
