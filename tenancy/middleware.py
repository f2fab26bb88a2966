"""Keeps the signed-in user's current workspace, chosen in the session."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from config.http import AppRequest
from tenancy.models import Workspace

SESSION_KEY = "current_workspace_id"


def current_workspace(request: HttpRequest) -> Workspace | None:
    """The session's workspace if the user still belongs to it, else their first one."""
    mine = Workspace.objects.for_user(request.user)
    chosen = request.session.get(SESSION_KEY)
    workspace = mine.filter(pk=chosen).first() if chosen else None
    return workspace or mine.first()


def choose_workspace(request: HttpRequest, workspace: Workspace) -> None:
    request.session[SESSION_KEY] = str(workspace.pk)


class CurrentWorkspaceMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: AppRequest) -> HttpResponse:
        request.workspace = current_workspace(request) if request.user.is_authenticated else None
        return self.get_response(request)
