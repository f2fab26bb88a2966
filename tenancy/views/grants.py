"""Adding and removing permission grants; the rules are in tenancy.services."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from config.http import AuthedRequest
from tenancy import services
from tenancy.forms import GrantForm
from tenancy.models import WorkspaceMember
from tenancy.views.pages import member_workspace, render_detail


@require_POST
@login_required
def add_grant(request: AuthedRequest, workspace_id: uuid.UUID) -> HttpResponse:
    workspace = member_workspace(request, workspace_id)
    members = list(WorkspaceMember.objects.filter(workspace=workspace).select_related("user"))
    form = GrantForm(request.POST, members=members)
    if form.is_valid():
        try:
            services.add_grant(request.user, workspace, **form.cleaned_data)
        except PermissionDenied as exc:
            messages.error(request, str(exc))
            return render_detail(request, workspace, grant_form=form, status=403)
        except services.MembershipError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Added the grant."))
            return redirect("tenancy:detail", workspace_id=workspace.pk)
    return render_detail(request, workspace, grant_form=form, status=400)


@require_POST
@login_required
def remove_grant(request: AuthedRequest, workspace_id: uuid.UUID, grant_id: int) -> HttpResponse:
    workspace = member_workspace(request, workspace_id)
    try:
        services.remove_grant(request.user, workspace, grant_id)
    except PermissionDenied as exc:
        messages.error(request, str(exc))
        return render_detail(request, workspace, status=403)
    except services.MembershipError as exc:
        messages.error(request, exc.message)
        return render_detail(request, workspace, status=400)
    messages.success(request, _("Removed the grant."))
    return redirect("tenancy:detail", workspace_id=workspace.pk)
