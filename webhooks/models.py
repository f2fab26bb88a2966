from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models

from tenancy.scoping import TenantQuerySet


class TriggerType(models.TextChoices):
    HTTP = "http", "Signed HTTP request"
    CRON = "cron", "Schedule"


class Webhook(models.Model):
    """An automation trigger that submits a request, e.g. "every day at 9 send a report"."""

    workspace_path: ClassVar[str] = "workspace"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhooks", help_text="Runs as this user"
    )
    workspace = models.ForeignKey("tenancy.Workspace", on_delete=models.CASCADE, related_name="webhooks")
    name = models.CharField(max_length=100)
    trigger_type = models.CharField(max_length=8, choices=TriggerType.choices)
    trigger_config = models.JSONField(default=dict, blank=True, help_text="Schedule or signing settings")
    action_config = models.JSONField(default=dict, blank=True, help_text="The request to submit and its options")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        db_table = "webhooks"
        ordering = ["workspace", "name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="webhook_name_unique"),
            models.CheckConstraint(
                condition=models.Q(trigger_type__in=TriggerType.values), name="webhook_trigger_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class WebhookExecution(models.Model):
    """One firing of a webhook: what triggered it, the run it started, how it went."""

    workspace_path: ClassVar[str] = "webhook__workspace"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="firings")
    triggered_at = models.DateTimeField()
    trigger_payload = models.JSONField(default=dict, blank=True)
    execution = models.ForeignKey(
        "orchestration.Execution", on_delete=models.SET_NULL, null=True, blank=True, related_name="webhook_firings"
    )
    success = models.BooleanField(null=True)
    error = models.TextField(blank=True, default="")
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        db_table = "webhook_executions"
        ordering = ["-triggered_at"]
        indexes = [models.Index(fields=["webhook", "-triggered_at"], name="webhook_exec_time_idx")]

    def __str__(self) -> str:
        return f"{self.webhook} at {self.triggered_at:%Y-%m-%d %H:%M:%S}"
