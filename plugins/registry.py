"""The plugin registry: filled at start-up from entry points, then closed.

Loading never takes the server down: a plugin that cannot be imported or
breaks the contract is kept in `broken` with the reason and has no hooks or
tools. Hook calls look up their handlers in a dict built at load time, so a
hook point no plugin handles costs one dict lookup and no query.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points

import jsonschema
from django.utils.module_loading import import_string
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from config.version import VERSION
from plugins.contract import HOOK_POINTS, OrchestratePlugin
from tools.base import Tool
from tools.registry import ToolRegistry

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "orchestrate.plugins"
_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,99}$")


class RegistryClosed(RuntimeError):
    pass


@dataclass
class Loaded:
    """One plugin as the registry found it: usable (`plugin` set) or broken (`error` set)."""

    name: str
    version: str = ""
    distribution: str = ""
    plugin: OrchestratePlugin | None = None
    error: str = ""
    hooks: dict[str, int] = field(default_factory=dict)


class PluginRegistry:
    def __init__(self) -> None:
        self.loaded: dict[str, Loaded] = {}
        # hook point -> plugin names handling it, in execution order: the only thing the hot path reads.
        self.handlers: dict[str, list[str]] = {}
        self._closed = False

    def load_entry_points(self) -> None:
        for entry_point in entry_points(group=ENTRY_POINT_GROUP):
            self.load_entry_point(entry_point)

    def load_path(self, dotted_path: str) -> None:
        """A plugin named by dotted path (ORCHESTRATE_EXTRA_PLUGINS), for ones not installed as packages."""
        try:
            target = import_string(dotted_path)
        except ImportError as exc:
            self._broken(dotted_path, f"cannot be imported: {exc}", "")
            return
        self.add(target, fallback_name=dotted_path)

    def load_entry_point(self, entry_point: EntryPoint) -> None:
        distribution = entry_point.dist.name if entry_point.dist else ""
        try:
            target = entry_point.load()
        except Exception as exc:  # any import error of foreign code is the plugin's fault, not the server's
            self._broken(entry_point.name, f"cannot be imported: {type(exc).__name__}: {exc}", distribution)
            return
        self.add(target, distribution=distribution, fallback_name=entry_point.name)

    def add(self, target: object, *, distribution: str = "", fallback_name: str = "") -> Loaded:
        if self._closed:
            raise RegistryClosed("The plugin registry is closed")
        try:
            plugin = target() if isinstance(target, type) and issubclass(target, OrchestratePlugin) else target
            if not isinstance(plugin, OrchestratePlugin):
                raise ValueError("is not an OrchestratePlugin subclass or instance")
            _check(plugin)
        except Exception as exc:
            name = getattr(target, "name", None)
            return self._broken(name if isinstance(name, str) else fallback_name, str(exc), distribution)
        if plugin.name in self.loaded:
            return self._broken(plugin.name, "two installed plugins share this name", distribution)
        loaded = Loaded(
            name=plugin.name,
            version=plugin.version,
            distribution=distribution,
            plugin=plugin,
            hooks=dict(plugin.hooks),
        )
        self.loaded[plugin.name] = loaded
        return loaded

    def _broken(self, name: str, error: str, distribution: str) -> Loaded:
        name = name or distribution or "?"
        logger.error("Plugin %s is disabled: %s", name, error)
        loaded = Loaded(name=name, distribution=distribution, error=error)
        self.loaded.setdefault(name, loaded)
        if self.loaded[name] is not loaded:  # a duplicate: keep the first, remember why the other was refused
            self.loaded[f"{name} ({distribution or 'duplicate'})"] = loaded
        return loaded

    def close(self) -> None:
        self.handlers = {}
        for hook in HOOK_POINTS:
            names = sorted(
                (loaded.hooks[hook], loaded.name)
                for loaded in self.loaded.values()
                if loaded.plugin is not None and hook in loaded.hooks
            )
            if names:
                self.handlers[hook] = [name for _, name in names]
        self._closed = True

    def usable(self) -> Iterable[Loaded]:
        return [loaded for loaded in self.loaded.values() if loaded.plugin is not None]

    def tools(self) -> list[tuple[str, type[Tool]]]:
        """(plugin name, tool class) for every tool a usable plugin contributes."""
        return [
            (loaded.name, tool_class)
            for loaded in self.usable()
            if loaded.plugin is not None
            for tool_class in loaded.plugin.tools
        ]


def register_plugin_tools(plugins: PluginRegistry, tools: ToolRegistry) -> None:
    """Register each usable plugin's tools; a plugin whose tool names clash with others' is disabled whole."""
    for loaded in plugins.usable():
        assert loaded.plugin is not None
        names = [tool_class.name for tool_class in loaded.plugin.tools]
        clash = [name for name in names if name in tools] or sorted({n for n in names if names.count(n) > 1})
        if clash:
            loaded.plugin, loaded.hooks = None, {}
            loaded.error = f"its tools {clash} clash with tools already registered"
            logger.error("Plugin %s is disabled: %s", loaded.name, loaded.error)
            continue
        for tool_class in loaded.plugin.tools:
            tools.register(tool_class, origin=f"plugin:{loaded.name}")


def _check(plugin: OrchestratePlugin) -> None:
    """The contract, checked once at load: ValueError says what is wrong."""
    name = getattr(plugin, "name", None)
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"has no valid name (lower-case letters, digits, '_', '.', '-'): {name!r}")
    version = getattr(plugin, "version", None)
    if not isinstance(version, str) or not version:
        raise ValueError("has no version")
    try:
        supported = SpecifierSet(plugin.orchestrate_versions)
    except InvalidSpecifier:
        raise ValueError(f"orchestrate_versions {plugin.orchestrate_versions!r} is not a version specifier") from None
    if Version(VERSION) not in supported:
        raise ValueError(f"supports Orchestrate {plugin.orchestrate_versions}, this is {VERSION}")
    try:
        jsonschema.Draft202012Validator.check_schema(plugin.settings_schema)
    except jsonschema.SchemaError as exc:
        raise ValueError(f"settings_schema is not a JSON schema: {exc.message}") from None
    for hook, order in plugin.hooks.items():
        if hook not in HOOK_POINTS:
            raise ValueError(f"handles unknown hook {hook!r} (known: {', '.join(HOOK_POINTS)})")
        if not isinstance(order, int):
            raise ValueError(f"hook {hook!r} has an execution order that is not an integer: {order!r}")
        if not callable(getattr(plugin, f"on_{hook}", None)):
            raise ValueError(f"handles {hook!r} but has no on_{hook} method")
    for tool_class in plugin.tools:
        if not (isinstance(tool_class, type) and issubclass(tool_class, Tool)):
            raise ValueError(f"contributes {tool_class!r}, which is not a Tool subclass")


registry = PluginRegistry()
