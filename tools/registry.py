"""The registry of tools: filled at start-up, then closed.

Built-in tools, tools named by dotted path in ORCHESTRATE_EXTRA_TOOLS, and
tools from installed plugins (the `orchestrate.tools` entry-point group) are
registered when the tools app is ready. After that the registry is closed:
what the planner can use does not change under a running process.

Some tools belong to one workspace and are found at run time (the tools of
the MCP servers a workspace registered). They come from tool sources: an
app names its sources in its AppConfig's `tool_sources` (dotted paths of
`ToolSource` classes), which are added at start-up like tools and closed
with them. A source serves the names under its prefix ("mcp."), per
workspace; `resolve()` and `for_workspace()` ask it.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import ClassVar

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from tools.base import Tool


class RegistryClosed(RuntimeError):
    pass


class ToolSource(ABC):
    """Tools of one workspace, found at run time; every name it serves starts with `prefix`."""

    prefix: ClassVar[str]
    origin: ClassVar[str]  # e.g. "mcp": what `ToolRegistry.origin()` says of its tools

    @abstractmethod
    def tools(self, workspace_id: uuid.UUID | str) -> list[Tool]:
        """The workspace's tools from this source that a plan may use now."""

    @abstractmethod
    def get(self, name: str, workspace_id: uuid.UUID | str) -> Tool:
        """The workspace's tool of this name; KeyError when it has none."""


class ToolRegistry:
    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}
        self._origins: dict[str, str] = {}
        self._sources: list[ToolSource] = []
        self._closed = False

    def register(self, tool_class: type[Tool], origin: str = "builtin") -> None:
        if self._closed:
            raise RegistryClosed(f"Cannot register {tool_class.__name__}: the tool registry is closed")
        tool = tool_class()
        if tool.name in self._tools:
            raise ImproperlyConfigured(f"Two tools are named {tool.name!r}")
        self._tools[tool.name] = tool
        self._origins[tool.name] = origin

    def register_path(self, dotted_path: str, origin: str) -> None:
        try:
            tool_class = import_string(dotted_path)
        except ImportError as exc:
            raise ImproperlyConfigured(f"ORCHESTRATE_EXTRA_TOOLS: cannot import {dotted_path!r}: {exc}") from None
        if not (isinstance(tool_class, type) and issubclass(tool_class, Tool)):
            raise ImproperlyConfigured(f"ORCHESTRATE_EXTRA_TOOLS: {dotted_path!r} is not a Tool subclass")
        self.register(tool_class, origin)

    def add_source(self, source: ToolSource) -> None:
        if self._closed:
            raise RegistryClosed(f"Cannot add {type(source).__name__}: the tool registry is closed")
        if any(name.startswith(source.prefix) for name in self._tools):
            raise ImproperlyConfigured(f"Registered tools already use the prefix {source.prefix!r}")
        self._sources.append(source)

    def add_source_path(self, dotted_path: str) -> None:
        source_class = import_string(dotted_path)
        if not (isinstance(source_class, type) and issubclass(source_class, ToolSource)):
            raise ImproperlyConfigured(f"tool_sources: {dotted_path!r} is not a ToolSource subclass")
        self.add_source(source_class())

    def close(self) -> None:
        self._closed = True

    def get(self, name: str) -> Tool:
        try:
            return self._tools[name]
        except KeyError:
            raise KeyError(f"No tool named {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def all(self) -> Iterable[Tool]:
        return [self._tools[name] for name in sorted(self._tools)]

    def origin(self, name: str) -> str:
        if name not in self._origins:
            source = self._source_for(name)
            if source is not None:
                return source.origin
        return self._origins[name]

    def _source_for(self, name: str) -> ToolSource | None:
        return next((source for source in self._sources if name.startswith(source.prefix)), None)

    def resolve(self, name: str, workspace_id: uuid.UUID | str | None) -> Tool:
        """The tool a step of this workspace names: registered, or the workspace's own; KeyError if none."""
        if name in self._tools:
            return self._tools[name]
        source = self._source_for(name)
        if source is None or workspace_id is None:
            raise KeyError(f"No tool named {name!r}")
        return source.get(name, workspace_id)

    def knows(self, name: str, workspace_id: uuid.UUID | str | None) -> bool:
        try:
            self.resolve(name, workspace_id)
        except KeyError:
            return False
        return True

    def for_workspace(self, workspace_id: uuid.UUID | str | None) -> list[Tool]:
        """The registered tools, then the workspace's own from every source."""
        tools = list(self.all())
        if workspace_id is not None:
            for source in self._sources:
                tools.extend(source.tools(workspace_id))
        return tools


registry = ToolRegistry()
