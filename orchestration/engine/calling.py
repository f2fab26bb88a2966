"""Calling a tool with a time limit."""

from __future__ import annotations

import threading
import time
from typing import Any

from django.db import connection

from tools.base import RetryableToolError, Tool, ToolCall, ToolError, ToolResult


class StepTimedOut(RetryableToolError):
    pass


def call_with_timeout(tool: Tool, call: ToolCall, timeout: float) -> ToolResult:
    """Run the tool on its own thread and stop waiting at the deadline.

    Python cannot kill a thread: a tool that overruns is abandoned, and
    whatever it returns later is dropped because its claim is no longer
    valid. Tools with long I/O should also honour `call.seconds_left()`.
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = tool.run(call)
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=target, name=f"tool-{tool.name}", daemon=True)
    thread.start()
    thread.join(timeout=max(0.0, (call.deadline or time.monotonic() + timeout) - time.monotonic()))
    if thread.is_alive():
        raise StepTimedOut(f"{tool.name} did not finish within {timeout:g} seconds")
    if "error" in outcome:
        raise outcome["error"]
    result = outcome.get("result")
    if not isinstance(result, ToolResult):
        raise ToolError(f"{tool.name} returned {type(result).__name__}, not a ToolResult")
    return result
