"""The tool contract.

A tool is one operation an agent can perform (search the drive, describe a
CSV file, send an e-mail). The engine calls `run()` with a `ToolCall` whose
input has been resolved and validated against `input_schema`, and stores
the `ToolResult`. The contract:

- `run()` may be called more than once for the same step (a worker died and
  the step resumed). A tool with side effects must make them idempotent with
  `call.idempotency_key`, which is the same on every attempt of a step.
- Raise `ToolInputError` for input the tool cannot use, `ToolError` for a
  failure retrying will not fix, and `RetryableToolError` for one it might
  (a timeout, a 503). Any other exception counts as a non-retryable failure.
- Long-running tools call `call.report_progress(state)` now and then: the
  state is checkpointed, and handed back as `call.resume_state` if the step
  has to be resumed. They should also stop early when `call.is_cancelled()`.
- Output must be JSON-serialisable. Never put secrets in output or shared
  values: they are stored, shown in the console and sent to other agents.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from tools.drive import WorkspaceDrive


class ToolError(Exception):
    """A failure that retrying will not fix; the message is shown to people."""


class RetryableToolError(ToolError):
    """A failure that may go away: the engine retries with backoff."""


class ToolInputError(ToolError):
    """The input does not suit the tool."""


class Stage(StrEnum):
    """Where a tool sits in a plan: sources feed transforms, which feed sinks."""

    SOURCE = "source"
    TRANSFORM = "transform"
    SINK = "sink"


def _no_progress(state: dict[str, Any]) -> None:
    return None


def _never_cancelled() -> bool:
    return False


@dataclass
class ToolCall:
    input: dict[str, Any]
    workspace_id: str
    execution_id: str
    step_number: int
    idempotency_key: str
    resume_state: dict[str, Any] | None = None
    deadline: float | None = None  # time.monotonic() value after which the engine stops waiting
    report_progress: Callable[[dict[str, Any]], None] = _no_progress
    is_cancelled: Callable[[], bool] = _never_cancelled
    # Set by the engine when a person approved the call: drive file name -> SHA-256 of the bytes they
    # approved (`Tool.referenced_files`). The tool must use exactly those bytes (`tools.frozen`).
    approved_files: dict[str, str] | None = None

    @property
    def drive(self) -> WorkspaceDrive:
        return WorkspaceDrive(self.workspace_id)

    def seconds_left(self, default: float = 30.0) -> float:
        if self.deadline is None:
            return default
        return max(0.1, self.deadline - time.monotonic())


@dataclass
class ToolResult:
    output: Any
    tokens_used: int = 0
    shared: dict[str, Any] = field(default_factory=dict)  # shared-context entries for the other agents
    summary: str = ""  # one line for people: what the tool did


class Tool(ABC):
    name: ClassVar[str]
    description: ClassVar[str]
    version: ClassVar[str] = "1"
    input_schema: ClassVar[dict[str, Any]] = {"type": "object"}
    capabilities: ClassVar[tuple[str, ...]] = ()
    stage: ClassVar[Stage] = Stage.TRANSFORM
    critical: ClassVar[bool] = False  # needs a person's approval before it runs
    cacheable: ClassVar[bool] = False  # same input, same output: answer from the cache
    cache_ttl_seconds: ClassVar[int] = 3600
    side_effects: ClassVar[bool] = False  # changes something outside the run
    rate_limit: ClassVar[tuple[str, str] | None] = None  # (integration, operation) bucket
    # What `resources()` locks, said for people (the catalogue shows it), e.g. "the drive file it writes".
    locks: ClassVar[str] = ""

    def resources(self, tool_input: dict[str, Any], workspace_id: str) -> list[str]:
        """Ids of shared resources the call must lock while it runs."""
        return []

    def approval_reason(self, tool_input: dict[str, Any]) -> str | None:
        """Why a person must approve this call before it runs, or None.

        Critical tools always need approval; a tool may also ask for it when
        an input crosses a threshold (e.g. more than N recipients).
        """
        return f"{self.name} is a critical action: a person must approve it." if self.critical else None

    def estimate_impact(self, tool_input: dict[str, Any]) -> dict[str, Any]:
        """What the call will do, to whom, how many items: shown to the person deciding."""
        return {}

    def referenced_files(self, tool_input: dict[str, Any]) -> list[str]:
        """Drive files whose contents are part of the action a person approves (e.g. attachments).

        Their contents are frozen when approval is asked; the approved call gets
        their hashes in `call.approved_files` and must use those bytes.
        """
        return []

    def cache_fingerprint(self, call: ToolCall) -> str:
        """Extra cache-key material: what else the answer depends on (e.g. file contents)."""
        return ""

    @abstractmethod
    def run(self, call: ToolCall) -> ToolResult: ...

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """What the planner and the catalogue know about the tool."""
        return {
            "name": cls.name,
            "description": cls.description,
            "version": cls.version,
            "input_schema": cls.input_schema,
            "capabilities": list(cls.capabilities),
            "stage": str(cls.stage),
            "critical": cls.critical,
            "cacheable": cls.cacheable,
            "side_effects": cls.side_effects,
            "rate_limit": list(cls.rate_limit) if cls.rate_limit else None,
            "locks": cls.locks or ("shared resources" if cls.resources is not Tool.resources else ""),
        }
