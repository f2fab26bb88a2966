"""The Learning page (patterns and A/B tests of the current workspace), its actions, and rating a run.

Everyone in the workspace sees what was learned; owners and admins switch
patterns off, start tests and promote winners (learning.services decide).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from config.http import AuthedRequest, htmx_partial
from learning.forms import ABTestForm, RatingForm
from learning.models import LearnedPattern, PatternType
from learning.services import abtests
from learning.services.feedback import RatingInvalid, rate_run
from learning.services.patterns import set_enabled
from learning.templatetags.learning import execution_rating
from orchestration.models import Execution
from tenancy.access import may
from tenancy.roles import Action
from versioning.models import ABTest, ABTestStatus


def _page(request: AuthedRequest, form: ABTestForm | None = None, status: int = 200) -> HttpResponse:
    workspace = request.workspace
    patterns = LearnedPattern.objects.for_user(request.user).filter(workspace=workspace)
    tests = ABTest.objects.for_user(request.user).filter(workspace=workspace).order_by("-created_at")
    may_manage = workspace is not None and may(request.user, Action.MANAGE_SETTINGS, workspace)
    if form is None and may_manage and workspace is not None:
        form = ABTestForm(choices=abtests.candidates(request.user, workspace))
    context: dict[str, Any] = {
        "request_patterns": patterns.filter(pattern_type=PatternType.REQUEST_PLAN).order_by("-promoted", "-confidence"),
        "sequence_patterns": patterns.filter(pattern_type=PatternType.TOOL_SEQUENCE).order_by("-confidence"),
        "tests": tests,
        "may_manage": may_manage,
        "form": form,
        "method": abtests.SIGNIFICANCE_METHOD,
    }
    return render(request, "learning/index.html", context, status=status)


@login_required
@require_GET
def index(request: AuthedRequest) -> HttpResponse:
    return _page(request)


@login_required
@require_POST
def toggle_pattern(request: AuthedRequest, pattern_id: uuid.UUID) -> HttpResponse:
    pattern = LearnedPattern.objects.for_user(request.user).filter(pk=pattern_id).first()
    if pattern is None:
        raise Http404("No such pattern.")
    set_enabled(request.user, pattern, not pattern.enabled)
    done = _("Pattern switched off: %(pattern)s") if pattern.enabled else _("Pattern switched on: %(pattern)s")
    messages.success(request, done % {"pattern": pattern.description})
    return redirect("learning:index")


@login_required
@require_POST
def start_ab_test(request: AuthedRequest) -> HttpResponse:
    workspace = request.workspace
    if workspace is None or not may(request.user, Action.MANAGE_SETTINGS, workspace):
        raise PermissionDenied(_("Only the workspace's owners and admins may start A/B tests."))
    form = ABTestForm(request.POST, choices=abtests.candidates(request.user, workspace))
    if not form.is_valid():
        return _page(request, form, status=400)
    try:
        test = abtests.start_test(request.user, workspace, **form.cleaned_data)
    except abtests.ABTestInvalid as exc:
        form.add_error(None, str(exc))
        return _page(request, form, status=400)
    messages.success(request, _("Started the A/B test %(name)s.") % {"name": test.name})
    return redirect("learning:index")


@login_required
@require_POST
def promote_test(request: AuthedRequest, test_id: uuid.UUID) -> HttpResponse:
    test = ABTest.objects.for_user(request.user).filter(pk=test_id).first()
    if test is None:
        raise Http404("No such test.")
    if abtests.promote(test.pk, user=request.user):
        messages.success(request, _("Promoted the winner of %(name)s.") % {"name": test.name})
    elif test.status != ABTestStatus.RUNNING:
        messages.info(request, _("This test has already ended."))
    else:
        messages.info(request, _("The test is not decided yet: nothing to promote."))
    return redirect("learning:index")


@login_required
@require_POST
def rate(request: AuthedRequest, execution_id: uuid.UUID) -> HttpResponse:
    """Rate a finished run: the rating section again for htmx, the execution page otherwise."""
    execution = Execution.objects.for_user(request.user).filter(pk=execution_id).first()
    if execution is None:
        raise Http404("No such execution.")
    form = RatingForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            rate_run(request.user, execution, form.cleaned_data["rating"], form.cleaned_data["comment"])
        except RatingInvalid as exc:
            error = str(exc)
    else:
        error = "Pick a rating from 1 to 5 (a comment is at most 2000 characters)."
    if htmx_partial(request):
        execution = Execution.objects.select_related("feedback").get(pk=execution.pk)
        context = execution_rating({"request": request}, execution)
        context["error"] = error
        return HttpResponse(render_to_string("inc/execution_rating.html", context, request=request), status=200)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("Thanks for rating the run."))
    return redirect("orchestration:execution", execution_id=execution.pk)
