"""The plugin contract.

A plugin is an installed Python package with an entry point in the
`orchestrate.plugins` group naming an `OrchestratePlugin` subclass (or an
instance of one). At start-up the registry loads every entry point, checks
the contract (a broken plugin is reported and disabled, never fatal) and
registers its tools; then it is closed.

Hooks are methods named `on_<hook point>` taking a `HookEvent`. They run in
a worker thread with a time limit; one that raises or overruns is logged and
skipped. Two hooks answer:

- `on_request_submitted` may return `Refuse("why")` to refuse the request;
- `on_plan_made` may return an amended plan (a dict), which is validated
  again and stored as a new plan version.

Every other return value is ignored.
"""

from __future__ import annotations

import uuid
from abc import ABC
from dataclasses import dataclass, field
from typing import Any, ClassVar

from tools.base import Tool

HOOK_POINTS: tuple[str, ...] = (
    "request_submitted",
    "plan_made",
    "step_starting",
    "step_finished",
    "approval_requested",
    "approval_decided",
    "run_finished",
)


@dataclass(frozen=True)
class HookEvent:
    """What a hook is told. `data` carries the hook point's own facts (see docs/plugins.md)."""

    hook: str
    workspace_id: uuid.UUID | None
    execution_id: uuid.UUID | None
    data: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)  # the plugin's settings, validated against its schema


@dataclass(frozen=True)
class Refuse:
    """A `request_submitted` hook's answer that the request must not run."""

    reason: str


class OrchestratePlugin(ABC):
    name: ClassVar[str]
    version: ClassVar[str]
    # A PEP 440 specifier of the Orchestrate versions the plugin supports, e.g. ">=0.1,<1".
    orchestrate_versions: ClassVar[str] = ""
    settings_schema: ClassVar[dict[str, Any]] = {"type": "object"}
    # The hook points handled, each with its place among the plugins handling it (lower runs first).
    hooks: ClassVar[dict[str, int]] = {}
    tools: ClassVar[tuple[type[Tool], ...]] = ()
    description: ClassVar[str] = ""
