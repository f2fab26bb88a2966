"""Telemetry off the hot path: rows buffered per worker process and written in batches.

A `Batch` keeps items (finished spans, metric values) in memory and hands
them to its writer in one call, which stores them with one insert per
table. One flusher thread per process writes every batch each
ORCHESTRATE_TELEMETRY_FLUSH_SECONDS (so telemetry is at most about that
far behind), a full batch is written at once by the thread that filled it,
the engine flushes when a run ends, and everything left is written when
the process exits normally (atexit, and Celery's worker_process_shutdown,
connected in orchestration/tasks.py).

The same thread runs small periodic jobs registered with `every()` (the
hourly rollups of the dashboard), so every process that produces telemetry
also keeps its summaries current; a failing job is logged and tried again
at its next turn.

With ORCHESTRATE_TELEMETRY_FLUSHER=0 there is no thread: items are written
only on `flush_telemetry()` or when a batch is full, in the calling thread.
The test suite wants that, so rows land only inside the test that made them.

A write that fails is dropped with one line on stderr (telemetry must never
fail a run); the writer itself may retry once in a form that cannot fail the
same way (see tracing.write_finished_spans).
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Generic, TypeVar

from django.conf import settings
from django.db import close_old_connections, connections

T = TypeVar("T")

_batches: list[Batch[object]] = []
_registry_lock = threading.Lock()
_flusher: dict[str, object] = {"pid": None, "wake": threading.Event()}


@dataclass
class _Periodic:
    seconds: float
    job: Callable[[], object]
    due: float  # on the monotonic clock


_periodic: list[_Periodic] = []
logger = logging.getLogger(__name__)


class Batch(Generic[T]):
    def __init__(self, name: str, write: Callable[[list[T]], None], capacity: int = 1000) -> None:
        self.name = name
        self._write = write
        self.capacity = capacity
        self._items: list[T] = []
        self._lock = threading.Lock()
        self._writing = threading.Lock()
        self.dropped = 0
        with _registry_lock:
            _batches.append(self)  # type: ignore[arg-type]

    def add(self, *items: T) -> None:
        with self._lock:
            self._items.extend(items)
            full = len(self._items) >= self.capacity
        if full:
            self.flush()
        else:
            _ensure_flusher()

    def take(self) -> list[T]:
        with self._lock:
            items, self._items = self._items, []
        return items

    def flush(self) -> None:
        # One write at a time per batch keeps rows in the order they were added.
        with self._writing:
            items = self.take()
            if not items:
                return
            try:
                self._write(items)
            except Exception as exc:  # telemetry must never fail the work it describes
                self.dropped += len(items)
                with suppress(Exception):
                    sys.stderr.write(f"monitoring: dropped {len(items)} {self.name} ({type(exc).__name__}: {exc})\n")

    def discard(self) -> int:
        return len(self.take())

    def _reset_after_fork(self) -> None:
        self._lock = threading.Lock()
        self._writing = threading.Lock()


def flush_telemetry() -> None:
    """Write every buffered span and metric of this process now, in this thread."""
    with _registry_lock:
        batches = list(_batches)
    for batch in batches:
        batch.flush()


def discard_telemetry() -> int:
    """Forget what is buffered (for test isolation); how many items were forgotten."""
    with _registry_lock:
        batches = list(_batches)
    return sum(batch.discard() for batch in batches)


def every(seconds: float, job: Callable[[], object]) -> None:
    """Run `job` from the flusher thread every `seconds` (first run `seconds` after the thread starts)."""
    with _registry_lock:
        if not any(entry.job is job for entry in _periodic):
            _periodic.append(_Periodic(seconds, job, time.monotonic() + seconds))


def cancel(job: Callable[[], object]) -> None:
    with _registry_lock:
        _periodic[:] = [entry for entry in _periodic if entry.job is not job]


def run_periodic(now: float | None = None) -> None:
    """Run the periodic jobs that are due (the flusher thread calls this after each flush)."""
    now = time.monotonic() if now is None else now
    with _registry_lock:
        due = [entry for entry in _periodic if entry.due <= now]
    for entry in due:
        entry.due = now + entry.seconds
        try:
            entry.job()
        except Exception:
            logger.exception("periodic telemetry job %r failed; trying again later", entry.job)


def _ensure_flusher() -> None:
    if _flusher["pid"] == os.getpid() or not getattr(settings, "ORCHESTRATE_TELEMETRY_FLUSHER", True):
        return
    with _registry_lock:
        if _flusher["pid"] == os.getpid():
            return
        _flusher["pid"] = os.getpid()
        threading.Thread(target=_flush_forever, name="monitoring-telemetry-flusher", daemon=True).start()


def _flush_forever() -> None:
    wake = _flusher["wake"]
    assert isinstance(wake, threading.Event)
    while True:
        wake.wait(settings.ORCHESTRATE_TELEMETRY_FLUSH_SECONDS)
        wake.clear()
        with suppress(Exception):
            close_old_connections()
        flush_telemetry()
        run_periodic()
        with suppress(Exception):
            close_old_connections()


def _after_fork_in_child() -> None:
    # The parent's flusher did not survive the fork; the child starts its own on first use.
    global _registry_lock
    _registry_lock = threading.Lock()
    _flusher["pid"] = None
    for batch in _batches:
        batch._reset_after_fork()
        batch.take()  # the parent writes what it had buffered


def flush_at_exit() -> None:
    with suppress(Exception):
        flush_telemetry()
    with suppress(Exception):
        connections.close_all()


atexit.register(flush_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
