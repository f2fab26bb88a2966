from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_lazy as _

from tenancy.scoping import TenantQuerySet


class PlanVersion(models.Model):
    """One version of a run's plan: the first plan, then each edit of it.

    A plan has no table of its own: it belongs to its execution, so `plan_id`
    is the execution's id.
    """

    workspace_path: ClassVar[str] = "plan__workspace"

    plan = models.ForeignKey(
        "orchestration.Execution", on_delete=models.CASCADE, db_column="plan_id", related_name="plan_versions"
    )
    version = models.PositiveIntegerField()
    plan_data = models.JSONField()
    metadata = models.JSONField(default=dict, blank=True, help_text="Who or what produced it, and why")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        db_table = "plan_versions"
        ordering = ["plan", "version"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "version"], name="plan_version_unique"),
            models.CheckConstraint(condition=models.Q(version__gte=1), name="plan_version_positive"),
        ]

    def __str__(self) -> str:
        return f"Plan {self.plan_id} v{self.version}"


class ABTestStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    RUNNING = "running", _("Running")
    COMPLETED = "completed", _("Completed")


class ABTestKind(models.TextChoices):
    PROMPT = "prompt", gettext_lazy("Two prompt versions of one agent")
    PLAN = "plan", gettext_lazy("Two plans for one request signature")


class ABTest(models.Model):
    """An experiment comparing two variants (of a prompt or a plan), with its results.

    `variant_a` / `variant_b` say what each variant is ({"prompt_version": id}
    or {"plan": <plan>, "label": ...}); `results` hold each variant's counts,
    success rate, mean rating, tokens and duration, the test's p-value and,
    once decided, the verdict.
    """

    workspace_path: ClassVar[str] = "workspace"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey("tenancy.Workspace", on_delete=models.CASCADE, related_name="ab_tests", null=True)
    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=10, choices=ABTestKind.choices, default=ABTestKind.PLAN)
    # The agent whose prompts compete, or the request signature whose plans compete.
    subject = models.CharField(max_length=300, default="")
    variant_a = models.JSONField()
    variant_b = models.JSONField()
    traffic_split = models.FloatField(default=0.5, help_text="Share of runs given variant B")
    min_sample = models.PositiveIntegerField(default=20, help_text="Runs each variant needs before a verdict")
    auto_promote = models.BooleanField(default=True, help_text="Promote the winner as soon as the test decides")
    winner = models.CharField(max_length=1, blank=True, default="", help_text="A or B once decided")
    results = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=ABTestStatus.choices, default=ABTestStatus.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        db_table = "ab_tests"
        ordering = ["-created_at"]
        verbose_name = "A/B test"
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=ABTestStatus.values), name="ab_test_status_valid"),
            models.CheckConstraint(
                condition=models.Q(traffic_split__gt=0, traffic_split__lt=1), name="ab_test_split_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ABTestRun(models.Model):
    """Which variant of a test one run was given (decided from the run's id, so the same every time)."""

    workspace_path: ClassVar[str] = "test__workspace"

    test = models.ForeignKey(ABTest, on_delete=models.CASCADE, related_name="runs")
    execution = models.ForeignKey("orchestration.Execution", on_delete=models.CASCADE, related_name="ab_assignments")
    variant = models.CharField(max_length=1)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        db_table = "ab_test_runs"
        constraints = [
            models.UniqueConstraint(fields=["test", "execution"], name="ab_test_run_once"),
            models.CheckConstraint(condition=models.Q(variant__in=["A", "B"]), name="ab_test_run_variant"),
        ]

    def __str__(self) -> str:
        return f"{self.test_id}: {self.execution_id} -> {self.variant}"
