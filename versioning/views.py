"""A run's plan versions: list with outcomes, edit as a new version, diff two, re-run one as a new run.

Members see the versions of their workspace's runs; editing and re-running
need the run permission (operators and up), as submitting a request does.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.http import AuthedRequest
from orchestration.engine.runs import replace_planned_steps, submit
from orchestration.models import Execution, ExecutionStatus
from orchestration.planning.schema import PlanInvalid
from tenancy.access import may
from tenancy.roles import Action
from versioning import services
from versioning.forms import BaseStepFormSet, NoteForm, StepFormSet, initial_steps
from versioning.models import PlanVersion


def _execution(request: AuthedRequest, execution_id: uuid.UUID) -> Execution:
    execution = Execution.objects.for_user(request.user).select_related("workspace").filter(pk=execution_id).first()
    if execution is None:
        raise Http404("No such execution.")
    return execution


def _page(
    request: AuthedRequest,
    execution: Execution,
    formset: Any = None,
    note: NoteForm | None = None,
    problems: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    versions = list(services.versions_of(execution))
    outcomes = services.outcomes(execution)
    latest = versions[-1] if versions else None
    if formset is None:
        formset = StepFormSet(
            initial=initial_steps(latest.plan_data if latest else {"steps": []}),
            prefix="steps",
            form_kwargs={"workspace": execution.workspace_id},
        )
    context = {
        "execution": execution,
        "rows": [(version, outcomes.get(version.version)) for version in versions],
        "formset": formset,
        "note": note or NoteForm(),
        "problems": problems or [],
        "may_edit": may(request.user, Action.RUN, execution.workspace_id),
        "editable": execution.status in services.EDITABLE,
        "latest": latest,
    }
    return render(request, "versioning/versions.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def versions(request: AuthedRequest, execution_id: uuid.UUID) -> HttpResponse:
    """The plan's versions; POST keeps the edited steps as a new version."""
    execution = _execution(request, execution_id)
    if request.method == "GET":
        return _page(request, execution)
    if not may(request.user, Action.RUN, execution.workspace_id):
        raise PermissionDenied(_("You may not edit plans in this workspace."))
    formset = cast(
        BaseStepFormSet,
        StepFormSet(request.POST, prefix="steps", form_kwargs={"workspace": execution.workspace_id}),
    )
    note = NoteForm(request.POST)
    if not formset.is_valid() or not note.is_valid():
        return _page(request, execution, formset, note, status=400)
    try:
        version = services.edit_plan(request.user, execution, formset.steps(), note.cleaned_data["note"])
    except PlanInvalid as exc:
        return _page(request, execution, formset, note, problems=exc.problems, status=400)
    except services.EditRefused as exc:
        return _page(request, execution, formset, note, problems=[str(exc)], status=409)
    if execution.status == ExecutionStatus.PLANNED and replace_planned_steps(execution, version.plan_data):
        messages.success(
            request,
            _("Saved plan version %(version)s: the run will run it when started.") % {"version": version.version},
        )
    else:
        messages.success(request, _("Saved plan version %(version)s.") % {"version": version.version})
    previous = version.version - 1
    return redirect(f"{request.path}diff?a={previous}&b={version.version}")


@login_required
@require_GET
def diff(request: AuthedRequest, execution_id: uuid.UUID) -> HttpResponse:
    execution = _execution(request, execution_id)
    chosen = services.versions_of(execution)
    try:
        a = chosen.filter(version=int(request.GET.get("a", ""))).first()
        b = chosen.filter(version=int(request.GET.get("b", ""))).first()
    except ValueError:
        a = b = None
    if a is None or b is None:
        raise Http404("Pick two versions of this plan to compare.")
    context = {"execution": execution, "a": a, "b": b, "changes": services.diff(a.plan_data, b.plan_data)}
    return render(request, "versioning/diff.html", context)


@login_required
@require_POST
def rerun(request: AuthedRequest, execution_id: uuid.UUID, version: int) -> HttpResponse:
    """Run the version again as a new run (its plan says which version it re-runs)."""
    execution = _execution(request, execution_id)
    chosen = PlanVersion.objects.filter(plan=execution, version=version).first()
    if chosen is None:
        raise Http404("No such plan version.")
    try:
        new = submit(
            user=request.user,
            workspace=execution.workspace,
            request_text=execution.request,
            plan=services.rerun_plan(chosen),
        )
    except PlanInvalid as exc:
        messages.error(request, _("This version cannot run any more: %(problem)s") % {"problem": exc})
        return redirect("versioning:versions", execution_id=execution.pk)
    messages.success(request, _("Re-running plan version %(version)s as a new run.") % {"version": chosen.version})
    return redirect("orchestration:execution", execution_id=new.pk)
