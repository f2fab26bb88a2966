from __future__ import annotations

from typing import ClassVar

from django.db import models

from tenancy.scoping import TenantQuerySet


class ExecutionCheckpoint(models.Model):
    """A recovery point of a run: enough state to continue it after a crash."""

    workspace_path: ClassVar[str] = "execution__workspace"

    # No index of its own: the unique (execution, checkpoint number) index serves every lookup by run.
    execution = models.ForeignKey(
        "orchestration.Execution", on_delete=models.CASCADE, related_name="checkpoints", db_index=False
    )
    checkpoint_number = models.PositiveIntegerField()
    state = models.JSONField(default=dict)
    context = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        db_table = "execution_checkpoints"
        ordering = ["execution", "checkpoint_number"]
        constraints = [
            models.UniqueConstraint(fields=["execution", "checkpoint_number"], name="checkpoint_number_unique"),
        ]

    def __str__(self) -> str:
        return f"Checkpoint {self.checkpoint_number} of {self.execution_id}"
