"""The approvals queue as one person sees it.

The page, its htmx fragments, the nav badge's context processor and the
live notifications consumer all show the same queue; they read it here so
the scoping (only the person's workspaces) and the per-row decide
permission are worked out in one place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from safety.approvals import may_decide
from safety.models import ApprovalStatus, PendingApproval

RECENT_LIMIT = 20


@dataclass(frozen=True)
class QueueRow:
    """One pending approval with what the template needs to show it."""

    approval: PendingApproval
    impact: list[tuple[str, str]]
    action_data: str
    can_decide: bool


def _text(value: Any) -> str:
    """A JSON value in words: scalars as they are, lists and objects as compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def impact_items(impact: Any) -> list[tuple[str, str]]:
    if isinstance(impact, dict):
        return [(str(key), _text(value)) for key, value in impact.items()]
    return [("impact", _text(impact))] if impact else []


def pending(user: Any) -> QuerySet[PendingApproval]:
    """Pending approvals of every workspace the user belongs to, oldest first."""
    return (
        PendingApproval.objects.for_user(user)
        .filter(status=ApprovalStatus.PENDING)
        .select_related("execution__workspace")
        .order_by("created_at", "pk")
    )


def pending_count(user: Any) -> int:
    return PendingApproval.objects.for_user(user).filter(status=ApprovalStatus.PENDING).count()


def recently_decided(user: Any, limit: int = RECENT_LIMIT) -> list[PendingApproval]:
    """The last decisions (and expiries) in the user's workspaces, newest first."""
    decided = (
        PendingApproval.objects.for_user(user).exclude(status=ApprovalStatus.PENDING).filter(resolved_at__isnull=False)
    )
    return list(decided.select_related("execution__workspace", "resolved_by").order_by("-resolved_at")[:limit])


def rows(user: Any) -> list[QueueRow]:
    """The queue's rows; whether the user may decide is asked once per workspace and tool."""
    allowed: dict[tuple[object, str], bool] = {}
    result = []
    for approval in pending(user):
        key = (approval.execution.workspace_id, approval.action_type)
        if key not in allowed:
            allowed[key] = may_decide(user, approval)
        result.append(
            QueueRow(
                approval=approval,
                impact=impact_items(approval.estimated_impact),
                action_data=json.dumps(approval.action_data, indent=2, ensure_ascii=False, sort_keys=True),
                can_decide=allowed[key],
            )
        )
    return result


def queue_context(user: Any) -> dict[str, Any]:
    return {"rows": rows(user), "recent": recently_decided(user)}
