from __future__ import annotations

import uuid
from typing import ClassVar

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


class PatternType(models.TextChoices):
    TOOL_SEQUENCE = "tool_sequence", _("Tool sequence")
    REQUEST_PLAN = "request_plan", _("Request to plan")
    FAILURE = "failure", _("Failure")


class LearnedPattern(models.Model):
    """Something the system learned from past runs, e.g. "Drive -> Analysis -> Calendar" at 90%."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    pattern_type = models.CharField(max_length=32, choices=PatternType.choices)
    description = models.TextField()
    confidence = models.FloatField(default=0)
    usage_count = models.PositiveIntegerField(default=0)
    success_rate = models.FloatField(default=0)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "learned_patterns"
        ordering = ["-confidence"]
        constraints = [
            _fraction("confidence", "pattern_confidence_range"),
            _fraction("success_rate", "pattern_success_rate_range"),
        ]

    def __str__(self) -> str:
        return f"{self.description} ({self.confidence:.0%})"


class PromptVersion(models.Model):
    """One version of an agent's prompt, with how well it has performed."""

    agent_id = models.CharField(max_length=64)
    version = models.PositiveIntegerField()
    prompt = models.TextField()
    performance_score = models.FloatField(default=0)
    token_efficiency = models.FloatField(default=0, help_text="Useful output per token, 0 to 1")
    success_rate = models.FloatField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "prompt_versions"
        ordering = ["agent_id", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["agent_id", "version"], name="prompt_version_unique"),
            models.CheckConstraint(condition=models.Q(version__gte=1), name="prompt_version_positive"),
            _fraction("performance_score", "prompt_performance_range"),
            _fraction("token_efficiency", "prompt_token_efficiency_range"),
            _fraction("success_rate", "prompt_success_rate_range"),
        ]

    def __str__(self) -> str:
        return f"{self.agent_id} v{self.version}"
