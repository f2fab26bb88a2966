"""Human-in-the-loop: a critical action waits until a person decides.

A decision is one conditional UPDATE from pending, so of two people
deciding at once exactly one wins and the other is told it was already
decided. Only members whose role or grant includes `approve` (for the
workspace or for the tool) may decide.

A decision is for one exact action: the request stores the digest of the
tool, its resolved input (secrets included, though they are shown
redacted) and the SHA-256 of every drive file it reads. The step runs only
when what it is about to do has that digest; anything else supersedes the
request and asks again.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from monitoring.tracing import redact
from safety.models import LIVE_STATUSES, ApprovalStatus, PendingApproval
from safety.signals import approval_decided, approval_requested
from tenancy.access import may
from tenancy.roles import Action, ResourceType

# Stored with the approval in English; shown in the reader's language by safety.reasons.
CHANGED = "The action changed since it was {status}; decide again. "


class AlreadyDecided(Exception):
    def __init__(self, approval: PendingApproval) -> None:
        if approval.status == ApprovalStatus.SUPERSEDED:
            message = "This request was replaced: the action changed, so a new request asks about what would now run."
        else:
            who = f" by {approval.resolved_by}" if approval.resolved_by else ""
            message = f"This request was already {approval.status}{who}."
        super().__init__(message)
        self.approval = approval


@dataclass(frozen=True)
class BoundFile:
    """A drive file the action reads, as it was when approval was asked."""

    name: str
    sha256: str
    bytes: int


@dataclass(frozen=True)
class BoundAction:
    """Exactly what a step is about to do: what a decision is bound to."""

    action_type: str
    tool_input: Mapping[str, Any]
    files: tuple[BoundFile, ...] = field(default=())

    @property
    def digest(self) -> str:
        canonical = json.dumps(
            {
                "action": self.action_type,
                "input": self.tool_input,
                "files": {file.name: file.sha256 for file in self.files},
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @property
    def file_hashes(self) -> dict[str, str]:
        return {file.name: file.sha256 for file in self.files}


def request_approval(
    *,
    execution_id: uuid.UUID,
    step_id: uuid.UUID,
    action: BoundAction,
    reason: str,
    estimated_impact: dict[str, Any],
) -> tuple[PendingApproval, list[PendingApproval]]:
    """The step's request for exactly this action, and the requests it superseded.

    The latest request of the step answers when it was asked for the same
    action (pending, approved...) or was rejected or expired (a refusal
    holds for the step whatever it would now do). A pending or approved
    request for another action is superseded and a new request asked.
    """
    digest = action.digest
    latest = PendingApproval.objects.filter(step_id=step_id).order_by("-created_at").first()
    if latest is not None and (
        latest.input_digest == digest or latest.status in (ApprovalStatus.REJECTED, ApprovalStatus.EXPIRED)
    ):
        return latest, []
    now = timezone.now()
    superseded: list[PendingApproval] = []
    try:
        with transaction.atomic():
            note = ""
            if latest is not None and latest.status in LIVE_STATUSES:
                if not PendingApproval.objects.filter(pk=latest.pk, status=latest.status).update(
                    status=ApprovalStatus.SUPERSEDED, resolved_at=latest.resolved_at or now
                ):
                    raise IntegrityError("decided meanwhile")
                superseded.append(latest)
                note = CHANGED.format(status="approved" if latest.status == ApprovalStatus.APPROVED else "asked")
            created = PendingApproval.objects.create(
                execution_id=execution_id,
                step_id=step_id,
                action_type=action.action_type,
                action_data=redact(action.tool_input),
                input_digest=digest,
                bound_files=[{"name": f.name, "sha256": f.sha256, "bytes": f.bytes} for f in action.files],
                reason=note + reason,
                estimated_impact=redact(estimated_impact),
                expires_at=now + timedelta(seconds=settings.ORCHESTRATE_APPROVAL_TIMEOUT),
            )
    except IntegrityError:
        # Asked twice at once (a redelivered step), or decided while being superseded: ask afresh.
        return request_approval(
            execution_id=execution_id, step_id=step_id, action=action, reason=reason, estimated_impact=estimated_impact
        )
    for approval in superseded:
        approval.refresh_from_db()
    approval_requested.send(sender=PendingApproval, approval=created)
    return created, superseded


def may_decide(user: Any, approval: PendingApproval) -> bool:
    workspace_id = approval.execution.workspace_id
    return may(user, Action.APPROVE, workspace_id, ResourceType.TOOL, approval.action_type)


def decide(approval: PendingApproval, user: Any, *, approve: bool, comment: str = "") -> PendingApproval:
    """Approve or reject; PermissionDenied for those who may not, AlreadyDecided for the slower of two."""
    if not may_decide(user, approval):
        raise PermissionDenied(_("You may not approve or reject actions in this workspace."))
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
