"""Keep the `plugins` and `plugin_hooks` rows in step with the plugin registry (after every migrate).

A plugin row is never deleted (an uninstalled plugin keeps its row and its
settings, marked with a load error); `enabled` is the people's choice and
is kept, except that a plugin which cannot be loaded is switched off.
"""

from __future__ import annotations

import sys
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction

from plugins.models import Plugin, PluginHook, PluginType
from plugins.registry import PluginRegistry, registry


def sync_plugins(plugins: PluginRegistry | None = None, *, using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Upsert a row per plugin found; returns the names of the broken ones."""
    plugins = plugins or registry
    broken = []
    with transaction.atomic(using=using):
        seen = set()
        for loaded in plugins.loaded.values():
            seen.add(loaded.name)
            plugin_type = PluginType.HOOK if loaded.hooks else PluginType.TOOL
            row, _ = Plugin.objects.using(using).get_or_create(
                name=loaded.name[:100],
                defaults={"version": loaded.version or "?", "plugin_type": plugin_type, "enabled": not loaded.error},
            )
            changes: dict[str, Any] = {"load_error": loaded.error}
            if loaded.error:
                broken.append(loaded.name)
                changes["enabled"] = False
            else:
                changes.update(version=loaded.version, plugin_type=plugin_type)
            Plugin.objects.using(using).filter(pk=row.pk).update(**changes)
            hooks = PluginHook.objects.using(using).filter(plugin=row)
            hooks.exclude(hook_name__in=list(loaded.hooks)).delete()
            for hook, order in loaded.hooks.items():
                hooks.update_or_create(plugin=row, hook_name=hook, defaults={"execution_order": order})
        Plugin.objects.using(using).exclude(name__in=seen).filter(load_error="").update(
            load_error="Not installed any more.", enabled=False
        )
    return broken


def sync_after_migrate(sender: Any, using: str = DEFAULT_DB_ALIAS, verbosity: int = 1, **kwargs: Any) -> None:
    """post_migrate receiver (connected for the plugins app only)."""
    if Plugin._meta.db_table not in connections[using].introspection.table_names():
        return
    broken = sync_plugins(using=using)
    if verbosity >= 1:
        stdout = kwargs.get("stdout") or sys.stdout
        stdout.write(f"  Plugins: {len(registry.loaded)} found, {len(broken)} broken\n")
