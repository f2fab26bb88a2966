"""What a request carries in this project, and the one way a view decides page or fragment.

Middleware adds two attributes to every request: `htmx` (django-htmx's
`HtmxMiddleware`) and `workspace` (the signed-in user's current workspace,
`tenancy.middleware.CurrentWorkspaceMiddleware`). Views annotate their
request as `AppRequest` so both are typed, or as `AuthedRequest` behind
`@login_required`, where the user is a real user and never anonymous.

A view that serves a page and its htmx fragment asks `htmx_partial()`:

    if htmx_partial(request):
        return render(request, "htmx/app/part.html", context)
    return render(request, "app/page.html", context)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django_htmx.middleware import HtmxDetails

    from tenancy.models import Workspace


class AppRequest(HttpRequest):
    """A request after this project's middleware: the type views annotate, never instantiated."""

    htmx: HtmxDetails
    workspace: Workspace | None


class AuthedRequest(AppRequest):
    """A request that `@login_required` let through: its user is signed in."""

    user: User


def htmx_partial(request: HttpRequest, target: str | None = None) -> bool:
    """Whether to answer with a fragment rather than the whole page.

    True for a request htmx made itself, and when `target` is given only if
    htmx is swapping that element (`hx-target`'s id), so one view can serve a
    page and several of its parts. False for a boosted link or form (htmx
    swaps the whole body, so it needs the page) and for htmx restoring history
    it did not have cached (it asks for the page to put back).
    """
    htmx = getattr(request, "htmx", None)
    if not htmx or htmx.boosted or htmx.history_restore_request:
        return False
    return target is None or htmx.target == target
