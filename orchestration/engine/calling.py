"""Calling a tool with a time limit.

Python cannot interrupt a thread, so a tool runs on a helper thread that the
worker waits on until the deadline. Each worker thread keeps its helper for
the next call (no thread is started per call); a helper whose tool overran
is abandoned (whatever it returns later is dropped, its claim being gone)
and the worker makes a new one. Tools with long I/O should also honour
`call.seconds_left()`.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field

from django.db import close_old_connections

from tools.base import RetryableToolError, Tool, ToolCall, ToolError, ToolResult


class StepTimedOut(RetryableToolError):
    pass


@dataclass
class _Job:
    tool: Tool
    call: ToolCall
    done: threading.Event = field(default_factory=threading.Event)
    result: object = None
    error: BaseException | None = None


class _Helper:
    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._serve, name="orchestrate-tool", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while (job := self.jobs.get()) is not None:
            try:
                job.result = job.tool.run(job.call)
            except BaseException as exc:
                job.error = exc
            finally:
                # As after a request: a broken connection or one past CONN_MAX_AGE is not kept.
                close_old_connections()
                job.done.set()


_local = threading.local()


def call_with_timeout(tool: Tool, call: ToolCall, timeout: float) -> ToolResult:
    helper: _Helper | None = getattr(_local, "helper", None)
    if helper is None:
        helper = _local.helper = _Helper()
    job = _Job(tool, call)
    helper.jobs.put(job)
    if not job.done.wait(timeout=max(0.0, (call.deadline or time.monotonic() + timeout) - time.monotonic())):
        _local.helper = None  # left to finish on its own; the next call gets a new helper
        helper.jobs.put(None)
        raise StepTimedOut(f"{tool.name} did not finish within {timeout:g} seconds")
    if job.error is not None:
        raise job.error
    if not isinstance(job.result, ToolResult):
        raise ToolError(f"{tool.name} returned {type(job.result).__name__}, not a ToolResult")
    return job.result
