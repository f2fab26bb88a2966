"""Prompt versions: every agent's versions with their scores; staff write new ones, make one current, compare.

Prompts are shared by all workspaces, so any signed-in person may read them
and only staff change them (learning.services.prompts decides).
"""

from __future__ import annotations

import difflib

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.http import AuthedRequest
from learning.forms import PromptForm
from learning.models import PromptVersion
from learning.services import prompts
from orchestration.agents import AGENTS


@login_required
@require_GET
def prompt_list(request: AuthedRequest) -> HttpResponse:
    agents = sorted(set(AGENTS) | set(PromptVersion.objects.values_list("agent_id", flat=True).distinct()))
    rows = [(agent, prompts.current_of(agent)) for agent in agents]
    return render(request, "learning/prompts.html", {"rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
def agent_prompts(request: AuthedRequest, agent_id: str) -> HttpResponse:
    """One agent's prompt versions, best first by nothing but their number; POST saves a new version."""
    versions = list(PromptVersion.objects.filter(agent_id=agent_id).order_by("-version"))
    if not versions and agent_id not in AGENTS:
        raise Http404("No such agent.")
    current = prompts.current_of(agent_id)
    form = PromptForm(request.POST or None, initial={"prompt": current.prompt if current else ""})
    status = 200
    if request.method == "POST":
        if not request.user.is_staff:
            raise PermissionDenied(_("Prompts are shared by every workspace: only staff change them."))
        if form.is_valid():
            try:
                version = prompts.new_version(
                    request.user,
                    agent_id,
                    form.cleaned_data["prompt"],
                    form.cleaned_data["note"],
                    make_current=form.cleaned_data["make_current"],
                )
            except prompts.PromptInvalid as exc:
                form.add_error("prompt", str(exc))
            else:
                messages.success(
                    request, _("Saved %(agent)s v%(version)s.") % {"agent": agent_id, "version": version.version}
                )
                return redirect("learning:agent_prompts", agent_id=agent_id)
        status = 400
    context = {
        "agent_id": agent_id,
        "versions": [(version, prompts.runs_of(agent_id, version.version)) for version in versions],
        "current": current,
        "form": form,
        "may_edit": request.user.is_staff,
    }
    return render(request, "learning/agent_prompts.html", context, status=status)


@login_required
@require_POST
def make_prompt_current(request: AuthedRequest, version_id: int) -> HttpResponse:
    version = PromptVersion.objects.filter(pk=version_id).first()
    if version is None:
        raise Http404("No such prompt version.")
    prompts.make_current(version, request.user)
    messages.success(
        request, _("%(agent)s v%(version)s is now current.") % {"agent": version.agent_id, "version": version.version}
    )
    return redirect("learning:agent_prompts", agent_id=version.agent_id)


@login_required
@require_GET
def compare_prompts(request: AuthedRequest, agent_id: str) -> HttpResponse:
    """Two versions side by side: their scores and a line diff of their text."""
    versions = PromptVersion.objects.filter(agent_id=agent_id)
    try:
        a = versions.filter(version=int(request.GET.get("a", ""))).first()
        b = versions.filter(version=int(request.GET.get("b", ""))).first()
    except ValueError:
        a = b = None
    if a is None or b is None:
        raise Http404("Pick two versions of this agent's prompt to compare.")
    lines = list(
        difflib.unified_diff(
            a.prompt.splitlines(), b.prompt.splitlines(), f"v{a.version}", f"v{b.version}", lineterm="", n=2
        )
    )
    return render(request, "learning/compare_prompts.html", {"agent_id": agent_id, "a": a, "b": b, "lines": lines})
