"""Keeps the signed-in user's current workspace, chosen in the session."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from config.http import AppRequest
from tenancy.models import Workspace, WorkspaceMember

SESSION_KEY = "current_workspace_id"
GONE = ""  # the chosen workspace is no longer the user's: wait for a new choice


def current_workspace(request: HttpRequest) -> Workspace | None:
    """The workspace the user chose, and only that one.

    With no choice yet (a fresh session), their oldest membership is chosen
    once and kept, so being added to another workspace later never moves
    them. When the chosen one is no longer theirs (they left, were removed,
    it was deleted) there is no current workspace until they choose again.
    """
    chosen = request.session.get(SESSION_KEY)
    if chosen:
        workspace = Workspace.objects.for_user(request.user).filter(pk=chosen).first()
        if workspace is None:
            request.session[SESSION_KEY] = GONE
        return workspace
    if chosen == GONE:
        return None
    first = (
        WorkspaceMember.objects.filter(user_id=request.user.pk or 0)
        .select_related("workspace")
        .order_by("created_at", "pk")
        .first()
    )
    if first is None:
        return None
    choose_workspace(request, first.workspace)
    return first.workspace


def choose_workspace(request: HttpRequest, workspace: Workspace) -> None:
    request.session[SESSION_KEY] = str(workspace.pk)


class CurrentWorkspaceMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: AppRequest) -> HttpResponse:
        request.workspace = current_workspace(request) if request.user.is_authenticated else None
        return self.get_response(request)
