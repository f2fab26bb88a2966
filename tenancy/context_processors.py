from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from tenancy.models import Workspace


def workspaces(request: HttpRequest) -> dict[str, Any]:
    """The workspace switcher's choices, read only when a template uses them."""
    if not request.user.is_authenticated:
        return {}
    return {
        "current_workspace": getattr(request, "workspace", None),
        "my_workspaces": lambda: list(Workspace.objects.for_user(request.user)),
    }
