from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class PluginType(models.TextChoices):
    TOOL = "tool", _("Tools")
    PLANNER = "planner", _("Planner")
    HOOK = "hook", _("Lifecycle hooks")


class Plugin(models.Model):
    """An installed plugin, found through a Python entry point, and whether it is on."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True)
    version = models.CharField(max_length=32)
    plugin_type = models.CharField(max_length=16, choices=PluginType.choices)
    config = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    # Why the plugin could not be loaded (then it stays disabled); empty when it loaded.
    load_error = models.TextField(blank=True, default="")
    # The latest hook failures, newest first: [{"at": iso time, "error": "hook: what happened"}].
    errors = models.JSONField(default=list, blank=True)
    installed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "plugins"
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


class PluginHook(models.Model):
    """A hook point a plugin listens on, and where it runs among the others listening there."""

    plugin = models.ForeignKey(Plugin, on_delete=models.CASCADE, related_name="hooks")
    hook_name = models.CharField(max_length=100)
    execution_order = models.IntegerField(default=0)

    class Meta:
        db_table = "plugin_hooks"
        ordering = ["hook_name", "execution_order"]
        constraints = [models.UniqueConstraint(fields=["plugin", "hook_name"], name="plugin_hook_unique")]
        indexes = [models.Index(fields=["hook_name", "execution_order"], name="plugin_hook_order_idx")]

    def __str__(self) -> str:
        return f"{self.plugin.name}: {self.hook_name} #{self.execution_order}"
