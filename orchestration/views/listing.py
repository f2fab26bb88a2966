"""The executions list: which runs a user sees, filtered, and whether a new run belongs on page one."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet

from orchestration.models import Execution

PAGE_SIZE = 25


def executions_for(user: Any, *, status: str = "", q: str = "") -> QuerySet[Execution]:
    """The runs of every workspace the user belongs to, newest first, with what a row shows joined in."""
    executions = Execution.objects.for_user(user).select_related("workspace", "user")
    if status:
        executions = executions.filter(status=status)
    if q:
        executions = executions.filter(request__icontains=q)
    return executions.order_by("-created_at", "-pk")


def page_of(executions: QuerySet[Execution], number: str | None) -> Page[Execution]:
    return Paginator(executions, PAGE_SIZE).get_page(number)


def belongs_on_first_page(execution: Execution, *, status: str = "", q: str = "", page: str = "") -> bool:
    """Whether a run the list has not shown yet belongs on top of its first page, filtered this way."""
    if page not in {"", "1"}:
        return False
    if status and execution.status != status:
        return False
    return not q or q.lower() in execution.request.lower()
