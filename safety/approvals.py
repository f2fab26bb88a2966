"""Human-in-the-loop: a critical action waits until a person decides.

A decision is one conditional UPDATE from pending, so of two people
deciding at once exactly one wins and the other is told it was already
decided. Only members whose role or grant includes `approve` (for the
workspace or for the tool) may decide.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from monitoring.tracing import redact
from safety.models import ApprovalStatus, PendingApproval
from safety.signals import approval_decided
from tenancy.access import may
from tenancy.roles import Action, ResourceType


class AlreadyDecided(Exception):
    def __init__(self, approval: PendingApproval) -> None:
        who = f" by {approval.resolved_by}" if approval.resolved_by else ""
        super().__init__(f"This request was already {approval.status}{who}.")
        self.approval = approval


def request_approval(
    *,
    execution_id: uuid.UUID,
    step_id: uuid.UUID,
    action_type: str,
    action_data: dict[str, Any],
    reason: str,
    estimated_impact: dict[str, Any],
) -> PendingApproval:
    """The step's approval request, created on first ask (secrets redacted) and returned as is after."""
    existing = PendingApproval.objects.filter(step_id=step_id).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return PendingApproval.objects.create(
                execution_id=execution_id,
                step_id=step_id,
                action_type=action_type,
                action_data=redact(action_data),
                reason=reason,
                estimated_impact=redact(estimated_impact),
                expires_at=timezone.now() + timedelta(seconds=settings.ORCHESTRATE_APPROVAL_TIMEOUT),
            )
    except IntegrityError:  # asked twice at once (a redelivered step)
        return PendingApproval.objects.get(step_id=step_id)


def may_decide(user: Any, approval: PendingApproval) -> bool:
    workspace_id = approval.execution.workspace_id
    return may(user, Action.APPROVE, workspace_id, ResourceType.TOOL, approval.action_type)


def decide(approval: PendingApproval, user: Any, *, approve: bool, comment: str = "") -> PendingApproval:
    """Approve or reject; PermissionDenied for those who may not, AlreadyDecided for the slower of two."""
    if not may_decide(user, approval):
        raise PermissionDenied("You may not approve or reject actions in this workspace.")
    now = timezone.now()
    status = ApprovalStatus.APPROVED if approve else ApprovalStatus.REJECTED
    won = PendingApproval.objects.filter(pk=approval.pk, status=ApprovalStatus.PENDING).update(
        status=status, resolved_at=now, resolved_by=user, comment=comment.strip()[:2000]
    )
    approval.refresh_from_db()
    if not won:
        raise AlreadyDecided(approval)
    approval_decided.send(sender=PendingApproval, approval=approval)
    return approval


def expire_overdue() -> list[PendingApproval]:
    """Expire requests left pending past their time; each expiry is sent like a decision."""
    now = timezone.now()
    expired = []
    for approval in PendingApproval.objects.filter(status=ApprovalStatus.PENDING, expires_at__lte=now):
        if PendingApproval.objects.filter(pk=approval.pk, status=ApprovalStatus.PENDING).update(
            status=ApprovalStatus.EXPIRED, resolved_at=now
        ):
            approval.refresh_from_db()
            approval_decided.send(sender=PendingApproval, approval=approval)
            expired.append(approval)
    return expired


def outcome_message(approval: PendingApproval) -> str:
    """Why a step did not run, in words for people."""
    if approval.status == ApprovalStatus.EXPIRED:
        return f"The approval request expired: nobody decided within {settings.ORCHESTRATE_APPROVAL_TIMEOUT:g} seconds."
    comment = f": {approval.comment}" if approval.comment else ""
    return f"Rejected by {approval.resolved_by or 'a person'}{comment}"
