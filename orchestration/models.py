from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tenancy.scoping import TenantQuerySet


class ExecutionStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    PLANNING = "planning", _("Planning")
    # The planner needs a detail from the person (which files, when, to whom): see orchestration.questions.
    WAITING_INPUT = "waiting_input", _("Waiting for your answer")
    # Planned with "Plan only": the steps exist and wait for "Run this plan".
    PLANNED = "planned", _("Planned")
    RUNNING = "running", _("Running")
    WAITING_APPROVAL = "waiting_approval", _("Waiting for approval")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


FINISHED_STATUSES = frozenset({ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED})


class StepStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    WAITING_APPROVAL = "waiting_approval", _("Waiting for approval")
    THROTTLED = "throttled", _("Throttled")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")


class MessageType(models.TextChoices):
    REQUEST = "REQUEST", _("Request")
    RESPONSE = "RESPONSE", _("Response")
    NOTIFICATION = "NOTIFICATION", _("Notification")


class Execution(models.Model):
    """One run of a person's request: its plan, where it is, and how it ended."""

    workspace_path: ClassVar[str] = "workspace"
    # Not stored: set by runs.submit() to False when the workers' broker could not take the run
    # (it is saved and queued; the sweeper sends it when the broker is back).
    dispatched: bool = True

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="executions"
    )
    workspace = models.ForeignKey("tenancy.Workspace", on_delete=models.CASCADE, related_name="executions")
    request = models.TextField()
    plan = models.JSONField(null=True, blank=True)
    plan_only = models.BooleanField(default=False, help_text="Plan, then wait for a person to start the run")
    question = models.JSONField(
        null=True, blank=True, help_text="The open question to the person while the run waits for an answer"
    )
    answers = models.JSONField(default=dict, blank=True, help_text="The person's answers, by what they answer")
    status = models.CharField(max_length=20, choices=ExecutionStatus.choices, default=ExecutionStatus.PENDING)
    current_step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        db_table = "executions"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["workspace", "-created_at"], name="execution_ws_created_idx"),
            models.Index(fields=["workspace", "status", "-created_at"], name="execution_ws_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ExecutionStatus.values), name="execution_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(current_step__lte=models.F("total_steps")), name="execution_current_step_in_plan"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.request[:60]} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES


class ExecutionStep(models.Model):
    """One step of a run's plan: the agent that runs it, its input and output, its cost."""

    workspace_path: ClassVar[str] = "execution__workspace"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of its own: the unique (execution, step number) index serves every lookup by run.
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="steps", db_index=False)
    step_number = models.PositiveIntegerField()
    agent_id = models.CharField(max_length=64, help_text="Name of the agent role that runs the step")
    tool = models.CharField(max_length=100, help_text="Name of the tool the agent calls")
    depends_on = models.JSONField(default=list, blank=True, help_text="Step numbers that must finish first")
    dependents = models.JSONField(default=list, blank=True, help_text="Step numbers that wait for this one")
    # Counts down as dependencies finish, so readiness is one atomic update
    # instead of re-reading every dependency after every step.
    remaining_deps = models.PositiveIntegerField(default=0)
    optional = models.BooleanField(default=False, help_text="The run goes on if this step fails or is rejected")
    status = models.CharField(max_length=20, choices=StepStatus.choices, default=StepStatus.PENDING)
    waiting_for = models.CharField(max_length=200, blank=True, default="", help_text="What a waiting step waits for")
    input = models.JSONField(default=dict, blank=True, help_text="As planned; may reference earlier outputs")
    output = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    tokens_used = models.PositiveIntegerField(default=0)
    cached = models.BooleanField(default=False, help_text="The output came from the result cache")
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=3)
    timeout_seconds = models.FloatField(null=True, blank=True, help_text="Overrides ORCHESTRATE_STEP_TIMEOUT")
    retry_at = models.DateTimeField(null=True, blank=True, help_text="A retried step runs no earlier than this")
    queued_at = models.DateTimeField(null=True, blank=True, help_text="When the step was last handed to a worker")
    claimed_by = models.CharField(max_length=100, blank=True, default="", help_text="Worker running the step")
    lease_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="The worker renews this while it runs; past it, the worker is presumed dead"
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        db_table = "execution_steps"
        ordering = ["execution", "step_number"]
        indexes = [
            models.Index(fields=["status", "lease_expires_at"], name="step_status_lease_idx"),
            # Nothing else: each index is written by every change of a step's status (several per step),
            # and a second index led by the run let the planner of a fresh database walk the whole run
            # where the step's finish and claim name (execution, step number) pairs.
        ]
        constraints = [
            models.UniqueConstraint(fields=["execution", "step_number"], name="execution_step_number_unique"),
            models.CheckConstraint(condition=models.Q(step_number__gte=1), name="execution_step_number_positive"),
            models.CheckConstraint(
                condition=models.Q(status__in=StepStatus.values), name="execution_step_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Step {self.step_number} ({self.agent_id}, {self.status})"


class SharedContext(models.Model):
    """A fact an agent shared with the others in a run (found, works, next), under a key."""

    workspace_path: ClassVar[str] = "execution__workspace"

    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="shared_context")
    key = models.CharField(max_length=200)
    value = models.JSONField(null=True, blank=True)
    created_by = models.CharField(max_length=64, help_text="Agent that wrote the value")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        db_table = "shared_context"
        ordering = ["execution", "key"]
        constraints = [models.UniqueConstraint(fields=["execution", "key"], name="shared_context_key_unique")]

    def __str__(self) -> str:
        return f"{self.key} (by {self.created_by})"


class AgentMessage(models.Model):
    """A message one agent (or the orchestrator) sent another during a run."""

    workspace_path: ClassVar[str] = "execution__workspace"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of its own: the (execution, created_at) index serves every lookup by run, and a step
    # writes three messages, each an insert into every index.
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="messages", db_index=False)
    from_agent = models.CharField(max_length=64)
    to_agent = models.CharField(max_length=64)
    message_type = models.CharField(max_length=16, choices=MessageType.choices)
    payload = models.JSONField(default=dict, blank=True)
    # The spec names the column `in_reply_to` (Django would add `_id`).
    in_reply_to = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="replies", db_column="in_reply_to"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        db_table = "agent_messages"
        ordering = ["execution", "created_at"]
        indexes = [models.Index(fields=["execution", "created_at"], name="agent_message_exec_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(message_type__in=MessageType.values), name="agent_message_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.message_type} {self.from_agent} -> {self.to_agent}"
