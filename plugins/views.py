"""The plugins page: installed plugins, their hooks, tools and errors; superusers switch them and edit settings.

Who sees and changes what is decided in `plugins.services`; these views
only turn its answers into pages (PermissionDenied is a 403).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from config.http import AuthedRequest, htmx_partial
from plugins import services
from plugins.models import Plugin


def _page(
    request: AuthedRequest, *, status: int = 200, edited: str = "", typed: str = "", problem: str = ""
) -> HttpResponse:
    """The page; after a refused edit, the plugin `edited` shows what was typed and what is wrong with it."""
    plugins = services.installed_plugins(request.user)
    for plugin in plugins:
        if plugin.row.name == edited:
            plugin.settings_json, plugin.problem = typed, problem
    context = {"plugins": plugins, "may_manage": services.may_manage_plugins(request.user)}
    return render(request, "plugins/list.html", context, status=status)


@login_required
@require_GET
def plugin_list(request: AuthedRequest) -> HttpResponse:
    return _page(request)


@login_required
@require_POST
def toggle(request: AuthedRequest, name: str) -> HttpResponse:
    """enabled=1 switches the plugin on, enabled=0 off, for every workspace."""
    enabled = request.POST.get("enabled")
    if enabled not in ("0", "1"):
        return HttpResponseBadRequest("Say enabled=1 to switch the plugin on or enabled=0 to switch it off.")
    try:
        services.set_enabled(request.user, name, enabled == "1")
    except Plugin.DoesNotExist:
        raise Http404("No such plugin.") from None
    except services.SettingsInvalid as exc:
        messages.error(request, str(exc))
        return redirect("plugins:list")
    if htmx_partial(request):
        shown = next(plugin for plugin in services.installed_plugins(request.user) if plugin.row.name == name)
        return render(request, "inc/plugin_toggle.html", {"plugin": shown, "may_manage": True})
    done = (
        _("%(name)s is enabled for every workspace.")
        if enabled == "1"
        else _("%(name)s is disabled for every workspace.")
    )
    messages.success(request, done % {"name": name})
    return redirect("plugins:list")


@login_required
@require_POST
def edit_settings(request: AuthedRequest, name: str) -> HttpResponse:
    """Save the plugin's settings, typed as JSON and checked against its settings schema."""
    text = request.POST.get("settings", "")
    try:
        services.update_settings(request.user, name, text)
    except Plugin.DoesNotExist:
        raise Http404("No such plugin.") from None
    except services.SettingsInvalid as exc:
        return _page(request, status=400, edited=name, typed=text, problem=str(exc))
    messages.success(request, _("Saved the settings of %(name)s.") % {"name": name})
    return redirect("plugins:list")
