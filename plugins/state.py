"""Which plugin tools people switched off (a disabled plugin's tools are not planned)."""

from __future__ import annotations

from plugins.models import Plugin
from plugins.registry import registry


def disabled_tools() -> frozenset[str]:
    """Names of the tools of disabled plugins; no query when no plugin contributes a tool."""
    contributed = registry.tools()
    if not contributed:
        return frozenset()
    disabled = set(Plugin.objects.filter(enabled=False).values_list("name", flat=True))
    return frozenset(tool_class.name for plugin, tool_class in contributed if plugin in disabled)
