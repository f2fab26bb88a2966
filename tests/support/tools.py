"""Tools that exist for tests: they make effects countable and failures controllable.

Registered through ORCHESTRATE_EXTRA_TOOLS (see tests/environment.py), the
same way an operator adds a custom tool.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from tools.base import RetryableToolError, Stage, Tool, ToolCall, ToolError, ToolResult

EFFECT_LOG = "effects.log"


def effect_count(drive: Any) -> int:
    return len(drive.read_text(EFFECT_LOG).splitlines()) if drive.exists(EFFECT_LOG) else 0


class EffectTool(Tool):
    """Performs one countable effect, then works for a while, reporting progress."""

    name = "test.effect"
    description = "Append one line to effects.log (once per step), then work for `seconds`."
    stage = Stage.SINK
    capabilities = ("test.effect",)
    side_effects = True
    input_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"label": {"type": "string"}, "seconds": {"type": "number", "minimum": 0}},
        "required": ["label"],
    }

    def run(self, call: ToolCall) -> ToolResult:
        drive = call.drive
        marker = f"effects/{call.idempotency_key.replace(':', '_')}"
        performed = not drive.exists(marker)
        if performed:
            lines = drive.read_text(EFFECT_LOG) if drive.exists(EFFECT_LOG) else ""
            drive.write_text(EFFECT_LOG, lines + f"{call.input['label']}\n")
            drive.write_text(marker, "done")
        slept = float((call.resume_state or {}).get("slept", 0.0))
        while slept < call.input.get("seconds", 0) and not call.is_cancelled():
            time.sleep(0.1)
            slept += 0.1
            call.report_progress({"slept": round(slept, 1)})
        return ToolResult(
            output={"label": call.input["label"], "performed": performed, "resumed_from": call.resume_state},
            shared={f"effect.{call.input['label']}": "done"},
            summary=f"effect {call.input['label']}",
        )


class NoopTool(Tool):
    name = "test.noop"
    description = "Return its input's value; does nothing else."
    capabilities = ("test.noop",)
    input_schema: ClassVar[dict[str, Any]] = {"type": "object", "properties": {"value": {}}}

    def run(self, call: ToolCall) -> ToolResult:
        return ToolResult(output={"value": call.input.get("value")})


class FlakyTool(Tool):
    """Fails with a retryable error `failures` times, then succeeds."""

    name = "test.flaky"
    description = "Fail retryably a given number of times, then succeed."
    capabilities = ("test.flaky",)
    input_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"failures": {"type": "integer", "minimum": 0}, "permanent": {"type": "boolean"}},
        "required": ["failures"],
    }

    def run(self, call: ToolCall) -> ToolResult:
        counter = f"flaky/{call.idempotency_key.replace(':', '_')}"
        attempts = int(call.drive.read_text(counter)) + 1 if call.drive.exists(counter) else 1
        call.drive.write_text(counter, str(attempts))
        if attempts <= call.input["failures"]:
            raise RetryableToolError(f"temporary failure {attempts}")
        return ToolResult(output={"attempts": attempts})


class SleepTool(Tool):
    name = "test.sleep"
    description = "Sleep for `seconds`, stopping early when the run is cancelled."
    capabilities = ("test.sleep",)
    input_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"seconds": {"type": "number", "minimum": 0}},
        "required": ["seconds"],
    }

    def run(self, call: ToolCall) -> ToolResult:
        deadline = time.monotonic() + call.input["seconds"]
        while time.monotonic() < deadline and not call.is_cancelled():
            time.sleep(0.05)
        return ToolResult(output={"cancelled": call.is_cancelled()})


class CriticalEffectTool(EffectTool):
    """An effect a person must approve first."""

    name = "test.critical"
    description = "A countable effect that needs approval."
    capabilities = ("test.critical",)
    critical = True

    def estimate_impact(self, tool_input: dict[str, Any]) -> dict[str, Any]:
        return {"action": "append a line", "items": 1, "label": tool_input["label"]}


class LockingTool(SleepTool):
    """Holds the lock on `resource` while it sleeps."""

    name = "test.locking"
    description = "Sleep while holding a lock on a named resource."
    capabilities = ("test.locking",)
    input_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"seconds": {"type": "number", "minimum": 0}, "resource": {"type": "string"}},
        "required": ["seconds", "resource"],
    }

    def resources(self, tool_input: dict[str, Any], workspace_id: str) -> list[str]:
        return [f"test:{workspace_id}:{tool_input['resource']}"]


class LimitedTool(NoopTool):
    """A call counted against the ("test", "call") rate limit."""

    name = "test.limited"
    description = "A no-op counted against a rate limit."
    capabilities = ("test.limited",)
    rate_limit = ("test", "call")


class ShareTool(Tool):
    """Shares the given values after `seconds`: an agent that changes what later steps read."""

    name = "test.share"
    description = "Share `values` (key -> value) in the run's shared context after `seconds`."
    capabilities = ("test.share",)
    input_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"values": {"type": "object"}, "seconds": {"type": "number", "minimum": 0}},
        "required": ["values"],
    }

    def run(self, call: ToolCall) -> ToolResult:
        deadline = time.monotonic() + call.input.get("seconds", 0)
        while time.monotonic() < deadline and not call.is_cancelled():
            time.sleep(0.05)
        return ToolResult(output={"shared": sorted(call.input["values"])}, shared=dict(call.input["values"]))


class DatabaseBlipTool(Tool):
    """Loses the database connection on its first `blips` calls, as during a PostgreSQL restart."""

    name = "test.db_blip"
    description = "Raise the database driver's connection error a given number of times, then succeed."
    capabilities = ("test.db_blip",)
    input_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"blips": {"type": "integer", "minimum": 0}},
        "required": ["blips"],
    }

    def run(self, call: ToolCall) -> ToolResult:
        from django.db import OperationalError

        counter = f"blips/{call.idempotency_key.replace(':', '_')}"
        calls = int(call.drive.read_text(counter)) + 1 if call.drive.exists(counter) else 1
        call.drive.write_text(counter, str(calls))
        if calls <= call.input["blips"]:
            raise OperationalError("server closed the connection unexpectedly")
        return ToolResult(output={"calls": calls})


class OddsTool(Tool):
    """Succeeds on exactly `percent` of its calls per `label`, spread evenly (call n succeeds when
    floor(n * percent / 100) grows): a step whose success rate is known in advance, for the A/B tests."""

    name = "test.odds"
    description = "Succeed on `percent` out of every 100 calls with this label, spread evenly; fail otherwise."
    capabilities = ("test.odds",)
    input_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"label": {"type": "string"}, "percent": {"type": "integer", "minimum": 0, "maximum": 100}},
        "required": ["label", "percent"],
    }

    def run(self, call: ToolCall) -> ToolResult:
        counter = f"odds/{call.input['label']}"
        calls = int(call.drive.read_text(counter)) + 1 if call.drive.exists(counter) else 1
        call.drive.write_text(counter, str(calls))
        percent = int(call.input["percent"])
        if calls * percent // 100 == (calls - 1) * percent // 100:
            raise ToolError(f"call {calls} of {call.input['label']} failed (succeeds {percent}% of the time)")
        return ToolResult(output={"calls": calls, "label": call.input["label"]})
