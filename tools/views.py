"""The tool catalogue page: every tool, searchable, and switching one off in the current workspace.

Everyone signed in sees the catalogue (the tools are the installation's);
the switch is for owners and admins of the current workspace
(`tools.services.workspace_tools` checks, the page only hides the button).
One view serves the page and the search's fragment (`htmx_partial`).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from config.http import AuthedRequest, htmx_partial
from plugins.services import may_view_plugins
from tenancy.access import may
from tenancy.roles import Action
from tools.services.catalogue import MAX_QUERY, catalogue, catalogue_entry
from tools.services.workspace_tools import UnknownTool, change_tool_setting

FRAGMENT = "tool-catalogue"


@login_required
@require_GET
def catalogue_page(request: AuthedRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:MAX_QUERY]
    workspace = request.workspace
    context = {
        "entries": catalogue(workspace, query),
        "query": query,
        "may_manage": workspace is not None and may(request.user, Action.MANAGE_SETTINGS, workspace),
    }
    if htmx_partial(request, FRAGMENT):
        return render(request, "htmx/tools/catalogue.html", context)
    context["may_view_plugins"] = may_view_plugins(request.user)
    return render(request, "tools/catalogue.html", context)


@login_required
@require_POST
def tool_setting(request: AuthedRequest, name: str) -> HttpResponse:
    """Switch the tool on (enabled=1) or off (enabled=0) in the current workspace."""
    workspace = request.workspace
    if workspace is None:
        raise PermissionDenied(_("Choose a workspace first: tools are switched off per workspace."))
    enabled = request.POST.get("enabled")
    if enabled not in ("0", "1"):
        return HttpResponseBadRequest("Say enabled=1 to switch the tool on or enabled=0 to switch it off.")
    try:
        change_tool_setting(request.user, workspace, name, enabled=enabled == "1")
    except UnknownTool as exc:
        raise Http404(str(exc)) from None
    if htmx_partial(request):
        context = {"entry": catalogue_entry(workspace, name), "may_manage": True}
        return render(request, "inc/tool_row.html", context)
    done = (
        _("%(name)s is switched on in %(workspace)s.")
        if enabled == "1"
        else _("%(name)s is switched off in %(workspace)s.")
    )
    messages.success(request, done % {"name": name, "workspace": workspace.name})
    query = request.POST.get("q", "")[:MAX_QUERY]
    return redirect(reverse("tools:catalogue") + (f"?{urlencode({'q': query})}" if query else ""))
