"""The approvals queue page and the decision on one of its rows.

One view serves both the full page and its htmx fragment: an htmx POST gets
the re-rendered queue (with the outcome as a message and the nav badge out
of band), a plain POST is redirected back to the queue with a message.
"""

from __future__ import annotations

import io
import posixpath
import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from config.http import AuthedRequest, htmx_partial
from safety.approvals import AlreadyDecided, decide
from safety.forms import DecisionForm
from safety.models import PendingApproval
from safety.queue import queue_context
from tools.base import ToolError
from tools.frozen import read_frozen


def _queue_response(request: AuthedRequest, status: int = 200) -> HttpResponse:
    """The queue as it is now: the fragment for htmx, else the page (for errors a redirect would lose)."""
    template = "htmx/safety/decided.html" if htmx_partial(request) else "safety/queue.html"
    return render(request, template, queue_context(request.user), status=status)


@login_required
def queue(request: AuthedRequest) -> HttpResponse:
    return _queue_response(request)


@require_POST
@login_required
def decide_approval(request: AuthedRequest, approval_id: str) -> HttpResponse:
    approval = get_object_or_404(
        PendingApproval.objects.for_user(request.user).select_related("execution__workspace"), pk=approval_id
    )
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.error_text())
        return _queue_response(request, status=400)
    try:
        decide(approval, request.user, approve=form.approve, comment=form.cleaned_data["comment"])
    except PermissionDenied as exc:
        messages.error(request, str(exc))
        return _queue_response(request, status=403)
    except AlreadyDecided as exc:
        messages.error(request, str(exc))
        if htmx_partial(request):
            return _queue_response(request, status=409)
        return redirect("safety:queue")
    if form.approve:
        messages.success(request, _("Approved %(action)s; the run goes on.") % {"action": approval.action_type})
    else:
        messages.success(
            request, _("Rejected %(action)s; the run will not take this action.") % {"action": approval.action_type}
        )
    if htmx_partial(request):
        return _queue_response(request)
    return redirect("safety:queue")


@require_GET
@login_required
def approved_file(request: AuthedRequest, approval_id: uuid.UUID, sha256: str) -> FileResponse:
    """A file of an approval request exactly as it was frozen for the person deciding."""
    approval = get_object_or_404(PendingApproval.objects.for_user(request.user), pk=approval_id)
    bound = next((file for file in approval.bound_files if file.get("sha256") == sha256), None)
    if bound is None:
        raise Http404("No such file in this request.")
    try:
        data = read_frozen(approval.execution.workspace_id, sha256)
    except ToolError:
        raise Http404("The frozen copy of this file is gone.") from None
    # Always an attachment: an HTML file must never render as a page of this site.
    return FileResponse(io.BytesIO(data), as_attachment=True, filename=posixpath.basename(str(bound["name"])))
