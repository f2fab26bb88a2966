from __future__ import annotations

import uuid
from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from tenancy.scoping import TenantQuerySet


class SpanStatus(models.TextChoices):
    UNSET = "unset", _("Unset")
    OK = "ok", _("OK")
    ERROR = "error", _("Error")


class LogLevel(models.TextChoices):
    DEBUG = "DEBUG", _("Debug")
    INFO = "INFO", _("Info")
    WARNING = "WARNING", _("Warning")
    ERROR = "ERROR", _("Error")
    CRITICAL = "CRITICAL", _("Critical")


class Trace(models.Model):
    """One span of distributed tracing: a named piece of work, its timing and its parent."""

    workspace_path: ClassVar[str] = "execution__workspace"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    execution = models.ForeignKey(
        "orchestration.Execution", on_delete=models.CASCADE, null=True, blank=True, related_name="traces"
    )
    parent_span = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="children")
    name = models.CharField(max_length=200)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=SpanStatus.choices, default=SpanStatus.UNSET)
    metadata = models.JSONField(default=dict, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        db_table = "traces"
        ordering = ["started_at"]
        indexes = [models.Index(fields=["execution", "started_at"], name="trace_exec_started_idx")]

    def __str__(self) -> str:
        return self.name


class Metric(models.Model):
    """One measured value at a moment, named and tagged (e.g. step duration for one tool)."""

    metric_name = models.CharField(max_length=100)
    metric_value = models.FloatField()
    tags = models.JSONField(default=dict, blank=True)
    timestamp = models.DateTimeField()

    class Meta:
        db_table = "metrics"
        ordering = ["-timestamp"]
        indexes = [models.Index(fields=["metric_name", "timestamp"], name="metric_name_time_idx")]

    def __str__(self) -> str:
        return f"{self.metric_name}={self.metric_value}"


class Log(models.Model):
    """One log line, with the run it concerns when there is one."""

    workspace_path: ClassVar[str] = "execution__workspace"

    execution = models.ForeignKey(
        "orchestration.Execution", on_delete=models.CASCADE, null=True, blank=True, related_name="logs"
    )
    source = models.CharField(max_length=100, help_text="Logger name")
    level = models.CharField(max_length=8, choices=LogLevel.choices)
    message = models.TextField()
    metadata = models.JSONField(default=dict, blank=True)
    timestamp = models.DateTimeField()

    objects = TenantQuerySet.as_manager()

    class Meta:
        db_table = "logs"
        ordering = ["timestamp"]
        indexes = [
            models.Index(fields=["execution", "timestamp"], name="log_exec_time_idx"),
            models.Index(fields=["level", "timestamp"], name="log_level_time_idx"),
            # The dashboard counts rate-limit throttles by the gate's logger over a time range.
            models.Index(fields=["source", "timestamp"], name="log_source_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.level} {self.source}: {self.message[:60]}"


class MetricRollup(models.Model):
    """The dashboard's figures of one workspace for one closed hour (monitoring/rollups.py).

    `figures` holds the runs created in the hour that had settled (finished,
    every step finished) when the hour was rolled up, with their steps, and
    the rate-limit throttles logged in the hour. Runs of the hour that had not
    settled are listed in `pending` and read from their rows. `stale` means a
    run of the hour finished since: the hour is read from the rows until it is
    rolled up again.
    """

    workspace_path: ClassVar[str] = "workspace"

    workspace = models.ForeignKey("tenancy.Workspace", on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField(help_text="Start of the hour (UTC)")
    # JSON as text, not jsonb: the dashboard reads hundreds of these at once, and PostgreSQL writes
    # jsonb back out as text several times slower than it sends text.
    figures = models.TextField(default="{}", blank=True, help_text="JSON of monitoring.figures.Figures.to_json()")
    # Apart from the figures: retention clears it when the log lines it counts are pruned.
    throttles = models.PositiveIntegerField(default=0, help_text="Rate-limit throttles logged in the hour")
    pending = models.JSONField(default=list, blank=True, help_text="Ids of the hour's runs not settled when rolled")
    stale = models.BooleanField(default=False)
    rolled_at = models.DateTimeField()

    objects = TenantQuerySet.as_manager()

    class Meta:
        db_table = "metric_rollups"
        ordering = ["hour"]
        constraints = [models.UniqueConstraint(fields=["workspace", "hour"], name="metric_rollup_workspace_hour")]
        indexes = [
            models.Index(fields=["hour"], name="metric_rollup_hour_idx"),
            # Re-rolling finds what a finished run made stale.
            models.Index(fields=["stale"], name="metric_rollup_stale_idx", condition=models.Q(stale=True)),
        ]

    def __str__(self) -> str:
        return f"{self.workspace_id} {self.hour:%Y-%m-%d %H}:00"


class RolledHour(models.Model):
    """An hour whose rollups were written for every workspace: a workspace without a row had nothing in it."""

    hour = models.DateTimeField(unique=True, help_text="Start of the hour (UTC)")
    rolled_at = models.DateTimeField()

    class Meta:
        db_table = "metric_rollup_hours"
        ordering = ["hour"]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}:00"
