"""The built-in tools, registered at start-up by the tools app."""

from __future__ import annotations

from tools.base import Tool

BUILTIN_TOOLS: list[type[Tool]] = []
