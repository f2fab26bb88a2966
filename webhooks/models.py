from __future__ import annotations

import secrets
import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tenancy.scoping import TenantQuerySet


class TriggerType(models.TextChoices):
    HTTP = "http", _("Signed HTTP request")
    CRON = "cron", _("Schedule")


class FiringSource(models.TextChoices):
    HTTP = "http", _("HTTP request")
    CRON = "cron", _("Schedule")
    TEST = "test", _("Test event")


def new_public_id() -> str:
    return secrets.token_urlsafe(18)


class Webhook(models.Model):
    """An automation trigger that submits a request, e.g. "every day at 9 send a report".

    `trigger_config` holds the schedule of a cron webhook ({"cron", "timezone"});
    `action_config` what a firing submits ({"request"} template and/or {"plan"},
    and an optional {"notify_url"} told when the runs it started finish).
    The signing secret is kept encrypted (it must be read back to check an HMAC).
    """

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
    # The unguessable part of /hooks/<public_id>/, apart from the primary key the console shows.
    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    secret_encrypted = models.TextField(blank=True, default="", editable=False)
    # After a rotation the old secret still verifies until this time, so senders can switch over.
    previous_secret_encrypted = models.TextField(blank=True, default="", editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Cron: the first slot not fired yet, and the last slot fired (claimed by one conditional UPDATE).
    next_run_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_slot = models.DateTimeField(null=True, blank=True, editable=False)

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
        indexes = [models.Index(fields=["trigger_type", "enabled", "next_run_at"], name="webhook_due_idx")]

    def __str__(self) -> str:
        return self.name


class WebhookExecution(models.Model):
    """One firing of a webhook, or one refused attempt: what triggered it, the run it started, how it went."""

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
    source = models.CharField(max_length=8, choices=FiringSource.choices, default=FiringSource.HTTP)
    # The HTTP status the request was answered with (http and test firings).
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    # The sender's message id of an accepted request: a second request with it is a replay.
    message_id = models.CharField(max_length=200, blank=True, default="")
    # The cron slot this firing is, and how many earlier slots were missed and not replayed.
    slot = models.DateTimeField(null=True, blank=True)
    skipped_slots = models.PositiveIntegerField(default=0)
    # Outbound notification attempts when the run finished: [{"at", "status", "error"}].
    notifications = models.JSONField(default=list, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        db_table = "webhook_executions"
        ordering = ["-triggered_at"]
        indexes = [models.Index(fields=["webhook", "-triggered_at"], name="webhook_exec_time_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["webhook", "message_id"],
                condition=~models.Q(message_id=""),
                name="webhook_exec_message_unique",
            ),
            models.UniqueConstraint(
                fields=["webhook", "slot"], condition=models.Q(slot__isnull=False), name="webhook_exec_slot_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.webhook} at {self.triggered_at:%Y-%m-%d %H:%M:%S}"
