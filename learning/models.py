from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tenancy.scoping import TenantQuerySet


def _fraction(field: str, name: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=models.Q(**{f"{field}__gte": 0, f"{field}__lte": 1}), name=name)


class ExecutionFeedback(models.Model):
    """How one finished run went: the person's rating and the run's measured figures."""

    workspace_path: ClassVar[str] = "execution__workspace"

    execution = models.OneToOneField("orchestration.Execution", on_delete=models.CASCADE, related_name="feedback")
    user_rating = models.PositiveSmallIntegerField(null=True, blank=True, help_text="1 (poor) to 5 (excellent)")
    user_comment = models.TextField(blank=True, default="")
    success = models.BooleanField()
    duration_ms = models.PositiveIntegerField(default=0)
    tokens_used = models.PositiveIntegerField(default=0)
    steps_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    patterns = models.JSONField(default=list, blank=True, help_text="Patterns this run matched or produced")
    created_at = models.DateTimeField(auto_now_add=True)
    # Set by the learning job each time it has read this run (after the run ends, and after each rating).
    learned_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        db_table = "execution_feedback"
        ordering = ["-created_at"]
        verbose_name_plural = "execution feedback"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user_rating__isnull=True) | models.Q(user_rating__gte=1, user_rating__lte=5),
                name="feedback_rating_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Feedback on {self.execution_id}"


class RunRating(models.Model):
    """One person's rating (1-5) of one finished run, and their comment; changed by rating again.

    The run's `execution_feedback` row carries the mean of these ratings and the newest comment.
    """

    workspace_path: ClassVar[str] = "execution__workspace"

    execution = models.ForeignKey("orchestration.Execution", on_delete=models.CASCADE, related_name="ratings")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="run_ratings")
    rating = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        db_table = "run_ratings"
        ordering = ["-updated_at"]
        constraints = [
            models.UniqueConstraint(fields=["execution", "user"], name="run_rating_one_per_user"),
            models.CheckConstraint(condition=models.Q(rating__gte=1, rating__lte=5), name="run_rating_range"),
        ]

    def __str__(self) -> str:
        return f"{self.rating}/5 on {self.execution_id}"


class PatternType(models.TextChoices):
    TOOL_SEQUENCE = "tool_sequence", _("Tool sequence")
    REQUEST_PLAN = "request_plan", _("Request to plan")
    FAILURE = "failure", _("Failure")


class LearnedPattern(models.Model):
    """Something a workspace's runs taught, e.g. "Drive -> Analysis -> Calendar" at 90%.

    A request-to-plan pattern maps a request's signature (its intents and the
    kinds of entities it names) to the plan template that ran for it; the
    planner uses it when its `confidence` (the lower bound of a Wilson
    interval over its rating-weighted outcomes) passes the threshold.
    """

    workspace_path: ClassVar[str] = "workspace"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        "tenancy.Workspace", on_delete=models.CASCADE, related_name="learned_patterns", null=True
    )
    pattern_type = models.CharField(max_length=32, choices=PatternType.choices)
    # What identifies the pattern in its workspace: the tool sequence, or the signature and the template's hash.
    key = models.CharField(max_length=64, default="")
    signature = models.CharField(max_length=300, blank=True, default="", help_text="The request shape it serves")
    plan_template = models.JSONField(null=True, blank=True, help_text="The plan, its entities left as slots")
    description = models.TextField()
    confidence = models.FloatField(default=0)
    usage_count = models.PositiveIntegerField(default=0)
    success_rate = models.FloatField(default=0)
    enabled = models.BooleanField(default=True, help_text="An admin may switch a pattern off")
    promoted = models.BooleanField(default=False, help_text="Won an A/B test: preferred for its signature")
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        db_table = "learned_patterns"
        ordering = ["-confidence"]
        constraints = [
            _fraction("confidence", "pattern_confidence_range"),
            _fraction("success_rate", "pattern_success_rate_range"),
            models.UniqueConstraint(fields=["workspace", "pattern_type", "key"], name="pattern_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.description} ({self.confidence:.0%})"


class PatternOutcome(models.Model):
    """How one run that followed a pattern went: the pattern's numbers are computed from these rows."""

    workspace_path: ClassVar[str] = "pattern__workspace"

    pattern = models.ForeignKey(LearnedPattern, on_delete=models.CASCADE, related_name="outcomes")
    execution = models.ForeignKey("orchestration.Execution", on_delete=models.CASCADE, related_name="+")
    succeeded = models.BooleanField()
    # 1 for a success nobody rated; a rated success counts (rating - 1) / 4; a failure 0.
    score = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        db_table = "pattern_outcomes"
        constraints = [
            models.UniqueConstraint(fields=["pattern", "execution"], name="pattern_outcome_once"),
            _fraction("score", "pattern_outcome_score_range"),
        ]

    def __str__(self) -> str:
        return f"{self.pattern_id}: {self.execution_id} {'ok' if self.succeeded else 'failed'}"


class PromptVersion(models.Model):
    """One version of an agent's prompt, with how well it has performed."""

    agent_id = models.CharField(max_length=64)
    version = models.PositiveIntegerField()
    prompt = models.TextField()
    note = models.CharField(max_length=300, blank=True, default="", help_text="Why this version was written")
    is_current = models.BooleanField(default=False, help_text="The version the agent uses (the newest when none)")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    performance_score = models.FloatField(default=0)
    token_efficiency = models.FloatField(default=0, help_text="Useful output per token, 0 to 1")
    success_rate = models.FloatField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "prompt_versions"
        ordering = ["agent_id", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["agent_id", "version"], name="prompt_version_unique"),
            models.UniqueConstraint(
                fields=["agent_id"], condition=models.Q(is_current=True), name="prompt_version_one_current"
            ),
            models.CheckConstraint(condition=models.Q(version__gte=1), name="prompt_version_positive"),
            _fraction("performance_score", "prompt_performance_range"),
            _fraction("token_efficiency", "prompt_token_efficiency_range"),
            _fraction("success_rate", "prompt_success_rate_range"),
        ]

    def __str__(self) -> str:
        return f"{self.agent_id} v{self.version}"
