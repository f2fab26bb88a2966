"""The console's pages: the executions list with the submit form, and one execution."""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from config.http import AuthedRequest, htmx_partial
from orchestration.engine.runs import submit
from orchestration.forms import MAX_UPLOAD_BYTES, ExecutionFilterForm, SubmitForm, UploadForm
from orchestration.fragments import ALL_PARTS, execution_context, visible_execution
from orchestration.views.listing import executions_for, page_of
from tenancy.access import may
from tenancy.roles import Action
from tools.drive import WorkspaceDrive

QUEUED_WHILE_WORKERS_UNREACHABLE = _(
    "Your run is saved and queued: the workers cannot be reached right now, so it starts as soon as they are "
    "back. There is no need to submit it again."
)
NOT_A_MEMBER = _("You are not a member of any workspace yet, so there is nowhere to run a request.")
# The drive listing walks storage; past this many files the page shows a note instead.
DRIVE_LIST_LIMIT = 200


@login_required
@require_http_methods(["GET", "POST"])
def index(request: AuthedRequest) -> HttpResponse:
    """The list of runs; POST submits a request and, when it is accepted, goes to the new run's page."""
    form = SubmitForm(request.POST if request.method == "POST" else None)
    if not form.is_bound or not form.is_valid():
        return render_index(request, submit_form=form, status=200)
    workspace = request.workspace
    if workspace is None:
        form.add_error(None, NOT_A_MEMBER)
        return render_index(request, submit_form=form, status=403)
    try:
        execution = submit(
            user=request.user,
            workspace=workspace,
            request_text=form.cleaned_data["request"],
            plan_only=request.POST.get("action") == "plan",
        )
    except PermissionDenied as exc:
        form.add_error(None, str(exc) or "You may not run requests in this workspace.")
        return render_index(request, submit_form=form, status=403)
    except ValueError as exc:  # an empty request, or a plan the validator refused
        form.add_error("request", str(exc))
        return render_index(request, submit_form=form, status=200)
    if not execution.dispatched:
        messages.warning(request, QUEUED_WHILE_WORKERS_UNREACHABLE)
    return redirect("orchestration:execution", execution_id=execution.pk)


def render_index(
    request: AuthedRequest,
    *,
    submit_form: SubmitForm | None = None,
    upload_form: UploadForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """The console page (or, for htmx asking for the list only, the list fragment)."""
    filters = ExecutionFilterForm(request.GET or None)
    chosen = filters.filters()
    page = page_of(executions_for(request.user, **chosen), request.GET.get("page"))
    page.object_list = list(page.object_list)  # read now, before `since` below is taken
    # `since`: runs created after this render are not in it, so the live stream adds them on top.
    live_query = urlencode({**chosen, "page": page.number, "since": f"{time.time():.3f}"})
    context: dict[str, Any] = {
        "page": page,
        "filter_form": filters,
        "filters": chosen,
        "filtered": any(chosen.values()),
        "live_url": f"/ws/executions/?{live_query}",
    }
    if htmx_partial(request, "executions-list"):
        return render(request, "htmx/orchestration/executions_list.html", context, status=status)
    workspace = request.workspace
    files = WorkspaceDrive(workspace.pk).list() if workspace is not None else []
    context.update(
        submit_form=submit_form or SubmitForm(),
        upload_form=upload_form or UploadForm(),
        can_run=workspace is not None and may(request.user, Action.RUN, workspace),
        drive_files=files[:DRIVE_LIST_LIMIT],
        drive_more=max(0, len(files) - DRIVE_LIST_LIMIT),
        max_upload_bytes=MAX_UPLOAD_BYTES,
        max_request_bytes=settings.ORCHESTRATE_MAX_BODY_BYTES,
    )
    return render(request, "orchestration/index.html", context, status=status)


@login_required
@require_http_methods(["GET"])
def execution_detail(request: AuthedRequest, execution_id: uuid.UUID) -> HttpResponse:
    """One run. Not a member of its workspace: 404, so a run's existence does not leak."""
    execution = visible_execution(request.user, execution_id)
    if execution is None:
        raise Http404("No such execution.")
    context = execution_context(execution, request.user, ALL_PARTS)
    if htmx_partial(request):
        return render(request, "htmx/orchestration/execution_parts.html", {**context, "oob": True})
    return render(request, "orchestration/execution.html", context)
