from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tenancy.scoping import TenantQuerySet


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    EXPIRED = "expired", _("Expired")
    # The step's action changed after this request (a new input, a changed attachment): asked again.
    SUPERSEDED = "superseded", _("Superseded")


# A step has at most one request that can still let it run: pending or approved.
LIVE_STATUSES = (ApprovalStatus.PENDING, ApprovalStatus.APPROVED)


class PendingApproval(models.Model):
    """A critical action a run wants to take, held until a person approves or rejects it."""

    workspace_path: ClassVar[str] = "execution__workspace"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    execution = models.ForeignKey("orchestration.Execution", on_delete=models.CASCADE, related_name="approvals")
    step = models.ForeignKey(
        "orchestration.ExecutionStep",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="approval_requests",
        help_text="The step that waits; a step whose action changed asks again, so it may have several",
    )
    action_type = models.CharField(max_length=100, help_text="The tool or action, e.g. email.send")
    action_data = models.JSONField(default=dict, blank=True, help_text="What will be done, secrets redacted")
    input_digest = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text="SHA-256 of the exact action (tool, resolved input, attached files' hashes) a decision is for",
    )
    bound_files = models.JSONField(
        default=list,
        blank=True,
        help_text="Drive files the action reads, frozen when asked: [{name, sha256, bytes}]",
    )
    reason = models.TextField(help_text="Why a person must decide")
    estimated_impact = models.JSONField(default=dict, blank=True, help_text="What happens, to whom, how many items")
    status = models.CharField(max_length=10, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # The spec names the column `resolved_by` (Django would add `_id`).
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="resolved_approvals",
        db_column="resolved_by",
    )
    comment = models.TextField(blank=True, default="", help_text="What the person who decided said")
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Left pending past this, the request expires")

    objects = TenantQuerySet.as_manager()

    class Meta:
        db_table = "pending_approvals"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"], name="approval_status_created_idx")]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=ApprovalStatus.values), name="approval_status_valid"),
            models.UniqueConstraint(
                fields=["step"], condition=models.Q(status__in=LIVE_STATUSES), name="approval_one_live_per_step"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action_type} ({self.status})"


class ResourceLock(models.Model):
    """A lease on a shared resource (a file, a calendar, a mailbox) held by one step."""

    resource_id = models.CharField(max_length=255, unique=True)
    locked_by = models.CharField(max_length=255, help_text="Holder, e.g. the step that took the lock")
    locked_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "resource_locks"
        ordering = ["resource_id"]

    def __str__(self) -> str:
        return f"{self.resource_id} held by {self.locked_by}"


class RateLimit(models.Model):
    """How many calls one integration's operation has made in one time window, for one workspace."""

    workspace = models.ForeignKey(
        "tenancy.Workspace", on_delete=models.CASCADE, null=True, blank=True, related_name="rate_limit_windows"
    )
    integration = models.CharField(max_length=64)
    operation = models.CharField(max_length=64)
    window_start = models.DateTimeField()
    request_count = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "rate_limits"
        ordering = ["-window_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "integration", "operation", "window_start"],
                condition=models.Q(workspace__isnull=False),
                name="rate_limit_workspace_window_unique",
            ),
            models.UniqueConstraint(
                fields=["integration", "operation", "window_start"],
                condition=models.Q(workspace__isnull=True),
                name="rate_limit_global_window_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.integration}.{self.operation} @ {self.window_start:%Y-%m-%d %H:%M:%S}: {self.request_count}"
