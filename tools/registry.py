"""The registry of tools: filled at start-up, then closed.

Built-in tools, tools named by dotted path in ORCHESTRATE_EXTRA_TOOLS, and
tools from installed plugins (the `orchestrate.tools` entry-point group) are
registered when the tools app is ready. After that the registry is closed:
what the planner can use does not change under a running process.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from tools.base import Tool


class RegistryClosed(RuntimeError):
    pass


class ToolRegistry:
    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}
        self._origins: dict[str, str] = {}
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
        return self._origins[name]


registry = ToolRegistry()
