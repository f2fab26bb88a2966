from __future__ import annotations

from functools import cache
from typing import Any

from django.http import HttpRequest

from safety.queue import pending_count


def pending_approvals(request: HttpRequest) -> dict[str, Any]:
    """The nav badge's count: one COUNT query, run only if a template shows the badge."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # Templates call callables; cached so the badge's three uses cost one query.
    return {"pending_approvals_count": cache(lambda: pending_count(user))}
