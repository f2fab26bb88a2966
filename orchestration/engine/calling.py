"""Calling a tool with a time limit.

Where the worker is its process's main thread (a Celery prefork child), the
tool runs right there and a real-time timer (SIGALRM) interrupts it at the
deadline, blocking calls included: no thread at all.

Elsewhere (the embedded mode's worker threads) Python cannot interrupt a
thread, so the tool runs on a helper thread that the worker waits on until
the deadline. Each worker thread keeps its helper for the next call (no
thread is started per call); a helper whose tool overran is abandoned
(whatever it returns later is dropped, its claim being gone) and the worker
makes a new one. Tools with long I/O should also honour `call.seconds_left()`.
"""

from __future__ import annotations

import contextlib
import queue
import signal
import threading
import time
from dataclasses import dataclass, field
from types import FrameType

from django.db import close_old_connections, connection

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
    seconds = max(0.0, (call.deadline or time.monotonic() + timeout) - time.monotonic())
    if _can_use_alarm():
        result = _run_inline(tool, call, seconds, timeout)
    else:
        result = _run_on_helper(tool, call, seconds, timeout)
    if not isinstance(result, ToolResult):
        raise ToolError(f"{tool.name} returned {type(result).__name__}, not a ToolResult")
    return result


def _can_use_alarm() -> bool:
    return (
        hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGALRM) == signal.SIG_DFL
    )


def _run_inline(tool: Tool, call: ToolCall, seconds: float, timeout: float) -> object:
    def expire(signum: int, frame: FrameType | None) -> None:
        raise StepTimedOut(f"{tool.name} did not finish within {timeout:g} seconds")

    if seconds <= 0:
        expire(signal.SIGALRM, None)
    signal.signal(signal.SIGALRM, expire)
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return tool.run(call)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except StepTimedOut:
        # Interrupted anywhere, maybe mid-query: the connection is not trusted again.
        with contextlib.suppress(Exception):
            connection.close()
        raise
    finally:
        signal.signal(signal.SIGALRM, signal.SIG_DFL)


def _run_on_helper(tool: Tool, call: ToolCall, seconds: float, timeout: float) -> object:
    helper: _Helper | None = getattr(_local, "helper", None)
    if helper is None:
        helper = _local.helper = _Helper()
    job = _Job(tool, call)
    helper.jobs.put(job)
    if not job.done.wait(timeout=seconds):
        _local.helper = None  # left to finish on its own; the next call gets a new helper
        helper.jobs.put(None)
        raise StepTimedOut(f"{tool.name} did not finish within {timeout:g} seconds")
    if job.error is not None:
        raise job.error
    return job.result
