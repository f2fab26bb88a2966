from __future__ import annotations

from importlib.metadata import entry_points

from django.apps import AppConfig, apps
from django.conf import settings
from django.db.models.signals import post_migrate

ENTRY_POINT_GROUP = "orchestrate.tools"


class ToolsConfig(AppConfig):
    name = "tools"
    verbose_name = "Tools"

    def ready(self) -> None:
        from tools.discovery import discover_after_migrate
        from tools.integrations import BUILTIN_TOOLS
        from tools.registry import registry

        for tool_class in BUILTIN_TOOLS:
            registry.register(tool_class, origin="builtin")
        for dotted_path in settings.ORCHESTRATE_EXTRA_TOOLS:
            registry.register_path(dotted_path, origin="extra")
        for entry_point in entry_points(group=ENTRY_POINT_GROUP):
            registry.register(entry_point.load(), origin=f"plugin:{entry_point.dist.name if entry_point.dist else '?'}")
        # Plugins (the `orchestrate.plugins` group) are loaded here, before the tool registry closes,
        # since they contribute tools; their rows and hooks are the plugins app's.
        from plugins.registry import register_plugin_tools
        from plugins.registry import registry as plugins

        plugins.load_entry_points()
        for dotted_path in settings.ORCHESTRATE_EXTRA_PLUGINS:
            plugins.load_path(dotted_path)
        register_plugin_tools(plugins, registry)
        plugins.close()
        # Workspace tools found at run time (MCP servers): each app names its sources on its AppConfig.
        for config in apps.get_app_configs():
            for dotted_path in getattr(config, "tool_sources", ()):
                registry.add_source_path(dotted_path)
        registry.close()
        # sender=self: migrate sends post_migrate once per app; the catalogue needs one refresh per migrate.
        post_migrate.connect(discover_after_migrate, sender=self, dispatch_uid="tools.discover_after_migrate")
