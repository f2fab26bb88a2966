"""Cancel, retry, resume, answer a question, start a previewed plan: POST only,
answered with fragments for htmx and a redirect otherwise."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from config.http import AuthedRequest, htmx_partial
from orchestration.engine.runs import cancel, resume_run, run_planned
from orchestration.fragments import ALL_PARTS, render_execution_parts, visible_execution
from orchestration.models import Execution
from orchestration.questions import InvalidAnswer, QuestionClosed, answer_question


def _cancel(request: AuthedRequest, execution: Execution) -> None:
    if cancel(execution, request.user):
        messages.success(request, _("The run was cancelled."))
    else:
        messages.info(request, _("The run had already ended; there was nothing to cancel."))


def _resume(request: AuthedRequest, execution: Execution) -> None:
    again = resume_run(execution, request.user)
    if again:
        messages.success(
            request,
            ngettext("Resumed: %(count)d step will run again.", "Resumed: %(count)d steps will run again.", again)
            % {"count": again},
        )
    else:
        messages.info(request, _("Only a failed or cancelled run that has steps can be retried or resumed."))


def _answer(request: AuthedRequest, execution: Execution) -> None:
    try:
        answer_question(execution, request.user, request.POST.get("answer", ""))
    except InvalidAnswer as exc:
        messages.error(request, str(exc))
    except QuestionClosed as exc:
        messages.info(request, str(exc))
    else:
        messages.success(request, _("Thanks: the run goes on with your answer."))


def _start(request: AuthedRequest, execution: Execution) -> None:
    if run_planned(execution, request.user):
        messages.success(request, _("The plan is running."))
    else:
        messages.info(request, _("This run was not waiting to start."))


def _act(
    request: AuthedRequest, execution_id: uuid.UUID, action: Callable[[AuthedRequest, Execution], None]
) -> HttpResponse:
    """Run the action on a run the user can see; 404 for anyone outside its workspace."""
    execution = visible_execution(request.user, execution_id)
    if execution is None:
        raise Http404("No such execution.")
    try:
        action(request, execution)
    except PermissionDenied as exc:
        messages.error(request, str(exc) or "You may not do that in this workspace.")
    if not htmx_partial(request):
        return redirect("orchestration:execution", execution_id=execution.pk)
    refreshed: Any = visible_execution(request.user, execution_id)
    flash = render_to_string("inc/execution_flash.html", {"oob": True}, request=request)
    return HttpResponse(render_execution_parts(refreshed, request.user, ALL_PARTS) + flash)


@login_required
@require_POST
def cancel_execution(request: AuthedRequest, execution_id: uuid.UUID) -> HttpResponse:
    return _act(request, execution_id, _cancel)


@login_required
@require_POST
def resume_execution(request: AuthedRequest, execution_id: uuid.UUID) -> HttpResponse:
    return _act(request, execution_id, _resume)


@login_required
@require_POST
def answer_execution(request: AuthedRequest, execution_id: uuid.UUID) -> HttpResponse:
    return _act(request, execution_id, _answer)


@login_required
@require_POST
def run_execution(request: AuthedRequest, execution_id: uuid.UUID) -> HttpResponse:
    return _act(request, execution_id, _start)
