from __future__ import annotations

import uuid

from django.db import models


class ToolType(models.TextChoices):
    BUILTIN = "builtin", "Built-in"
    PLUGIN = "plugin", "Plugin"
    EXTERNAL = "external", "External tool server"


class ToolCatalog(models.Model):
    """A tool the planner may use, what it can do, and when discovery last saw it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tool_type = models.CharField(max_length=16, choices=ToolType.choices)
    name = models.CharField(max_length=100, unique=True)
    capabilities = models.JSONField(default=list, help_text='e.g. ["files.search", "files.read"]')
    metadata = models.JSONField(default=dict, blank=True)
    last_discovered_at = models.DateTimeField()

    class Meta:
        db_table = "tool_catalog"
        ordering = ["name"]
        verbose_name = "tool"

    def __str__(self) -> str:
        return self.name
