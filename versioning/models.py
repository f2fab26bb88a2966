from __future__ import annotations

import uuid
from typing import ClassVar

from django.db import models
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


class ABTest(models.Model):
    """An experiment comparing two variants (of a prompt or a plan), with its results."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True)
    variant_a = models.JSONField()
    variant_b = models.JSONField()
    results = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=ABTestStatus.choices, default=ABTestStatus.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "ab_tests"
        ordering = ["-created_at"]
        verbose_name = "A/B test"
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=ABTestStatus.values), name="ab_test_status_valid"),
        ]

    def __str__(self) -> str:
        return self.name
