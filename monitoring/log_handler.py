"""A logging handler that stores run logs in the `logs` table, in batches.

What is stored: records that carry an execution id (`logger.info(...,
extra={"execution_id": run.id, "step_number": 3})`), and, unless
`include_warnings=False`, records at WARNING and above without one. The
execution pages read these rows; the console handler is unaffected.

Where it is attached: config/settings.py gives it to the domain loggers
(orchestration, persistence, caching, tools, safety, ...) rather than to the
root logger. A root handler would also receive Django's and third-party
warnings (every 404 from `django.request`, `DisallowedHost` from any
scanner), which are noise on a run's page and let outsiders fill the table.

How it writes: `emit` only appends to an in-memory queue. A daemon thread
writes the queue with one `bulk_create` every `flush_interval` seconds, or
sooner when `capacity` records are waiting, and closes its connection the
way Django does after a request (`close_old_connections`, so CONN_MAX_AGE is
honoured). `flush()` writes in the calling thread, on its connection: the
engine calls `flush_database_logs()` when a run finishes, tests call it.
With `background=False` there is no thread: a full queue is written by the
thread that filled it, the rest on `flush()`. The test suite wants that
(ORCHESTRATE_LOG_FLUSHER=0), so that rows are written only inside the test
that logged them, on its connection, and never by a thread that outlives it.

What it promises: it never raises into the code that logs (a failed write
drops that batch with one note on stderr until writes work again, e.g.
while `migrate` has not yet created the table); it never logs its own
writes (records from `django.db` loggers and any record emitted by a thread
while it writes are ignored); it is safe from many threads and across a
fork (a Celery prefork child starts its own flusher). It keeps no record of
the ids of the rows it wrote.

A log line about a run that does not exist (deleted while running, or not
yet committed) is stored without the link, its id kept in metadata: a
dangling foreign key fails at commit. In autocommit (the flusher thread, the
engine's end-of-run flush) the batch is inserted as is and, only if its
commit is refused, the ids are looked up and the batch retried. Inside a
caller's transaction the refusal would come at the caller's commit, so the
ids are looked up first (one query per batch, skipped for runs seen before).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import uuid
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.db import IntegrityError, close_old_connections, connections, router, transaction

if TYPE_CHECKING:
    from monitoring.models import Log

DEFAULT_EXTRAS = ("step_number", "agent", "tool", "attempt", "span_id")
KNOWN_EXECUTIONS_LIMIT = 4096
_LEVEL_NAMES = ((logging.CRITICAL, "CRITICAL"), (logging.ERROR, "ERROR"), (logging.WARNING, "WARNING"))
_DEFAULT_FORMATTER = logging.Formatter()

# Set while a thread writes log rows: anything that thread logs meanwhile
# (a database backend's debug line, a warning from a driver) is dropped.
_writing = threading.local()

_handlers: weakref.WeakSet[DatabaseLogHandler] = weakref.WeakSet()
_handlers_lock = threading.Lock()


@dataclass(frozen=True)
class _Pending:
    """A log record reduced at emit time to what the row needs, so no record objects are kept."""

    execution_id: str | None
    source: str
    level: str
    message: str
    metadata: dict[str, Any]
    timestamp: datetime


def _level_name(levelno: int) -> str:
    for threshold, name in _LEVEL_NAMES:
        if levelno >= threshold:
            return name
    return "INFO" if levelno >= logging.INFO else "DEBUG"


def _is_own_noise(record: logging.LogRecord) -> bool:
    return getattr(_writing, "active", False) or record.name == "django.db" or record.name.startswith("django.db.")


class DatabaseLogHandler(logging.Handler):
    """Buffered writer of run logs to the `logs` table (see the module docstring for the contract)."""

    def __init__(
        self,
        level: int | str = logging.NOTSET,
        *,
        flush_interval: float = 1.0,
        capacity: int = 200,
        include_warnings: bool = True,
        extras: Iterable[str] = DEFAULT_EXTRAS,
        max_queue: int = 10_000,
        background: bool = True,
    ) -> None:
        super().__init__(level)
        if flush_interval <= 0:
            raise ValueError("flush_interval must be positive")
        if capacity < 1 or max_queue < capacity:
            raise ValueError("capacity must be at least 1 and max_queue at least capacity")
        self.flush_interval = flush_interval
        self.capacity = capacity
        self.include_warnings = include_warnings
        self.extras = tuple(extras)
        self.max_queue = max_queue
        self.background = background
        self.dropped = 0
        self._queue: deque[_Pending] = deque()
        self._closed = False
        self._failing = False
        self._known_executions: set[str] = set()
        self._reset_threading()
        with _handlers_lock:
            _handlers.add(self)

    def _reset_threading(self) -> None:
        # Lock order: self.lock (held by logging around emit) -> _flush_lock -> _queue_lock.
        # _flush_lock: one write at a time (the flusher's, or a flush() that waits for it).
        self._queue_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def handle(self, record: logging.LogRecord) -> bool:
        # Checked before logging takes the handler lock: the writing thread must never wait on it.
        if self._closed or _is_own_noise(record):
            return False
        return bool(super().handle(record))

    def emit(self, record: logging.LogRecord) -> None:
        if self._closed or _is_own_noise(record):
            return
        try:
            pending = self._pending(record)
            if pending is None:
                return
            with self._queue_lock:
                if len(self._queue) >= self.max_queue:
                    # The database has been failing for a while: keep the newest lines.
                    self._queue.popleft()
                    self.dropped += 1
                self._queue.append(pending)
                full = len(self._queue) >= self.capacity
            if not self.background:
                if full:
                    self._write_pending()
                return
            self._ensure_flusher()
            if full:
                self._wake.set()
        except Exception:
            self.handleError(record)

    def _pending(self, record: logging.LogRecord) -> _Pending | None:
        raw_execution = getattr(record, "execution_id", None)
        if raw_execution in (None, "") and not (self.include_warnings and record.levelno >= logging.WARNING):
            return None
        metadata = {name: getattr(record, name) for name in self.extras if hasattr(record, name)}
        execution_id = None
        if raw_execution not in (None, ""):
            try:
                execution_id = str(uuid.UUID(str(getattr(raw_execution, "pk", raw_execution))))
            except ValueError:
                metadata["execution_id"] = str(raw_execution)
        if record.exc_info:
            metadata["exception"] = (self.formatter or _DEFAULT_FORMATTER).formatException(record.exc_info)
        elif record.exc_text:
            metadata["exception"] = record.exc_text
        return _Pending(
            execution_id=execution_id,
            source=record.name[:100],
            level=_level_name(record.levelno),
            message=record.getMessage(),
            metadata=metadata,
            timestamp=datetime.fromtimestamp(record.created, tz=UTC),
        )

    def _ensure_flusher(self) -> None:
        thread = self._thread
        if self._closed or (thread is not None and thread.is_alive()):
            return
        with self._queue_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="monitoring-log-flusher", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._wake.wait(self.flush_interval)
                self._wake.clear()
                if self._stop.is_set():
                    break
                with self._queue_lock:
                    idle = not self._queue
                if idle or not apps.ready:
                    continue
                # As around a request: drop a connection that is broken or past CONN_MAX_AGE.
                self._quietly(close_old_connections)
                self._write_pending()
                self._quietly(close_old_connections)
        finally:
            # This thread's connections only: Django keeps one set per thread.
            self._quietly(connections.close_all)

    @staticmethod
    def _quietly(action: Callable[[], object]) -> None:
        # A connection that cannot even be closed is gone already.
        with suppress(Exception):
            action()

    def flush(self) -> None:
        """Write every queued record now, in this thread and on its database connection.

        Outside a transaction it first waits for a background write in progress,
        so every record emitted before the call is stored when it returns. Inside
        one it does not wait (see `_write_pending`) and a batch the flusher holds
        lands when that write completes.
        """
        self._write_pending()

    def _write_pending(self) -> None:
        if not apps.ready:
            return  # Logged during start-up: kept until the models can be used.
        # Imported here: logging configuration loads this module before the app registry.
        from monitoring.models import Log

        # A caller inside a transaction does not wait for a background write in
        # progress: that write may itself be waiting for the caller's locks (SQLite's
        # write lock, or a row the caller holds FOR UPDATE). Its own queue is written.
        wait = not connections[router.db_for_write(Log)].in_atomic_block
        acquired = self._flush_lock.acquire(blocking=wait)
        try:
            with self._queue_lock:
                batch = list(self._queue)
                self._queue.clear()
            if not batch:
                return
            was_writing = getattr(_writing, "active", False)
            _writing.active = True
            try:
                self._write(batch)
            except Exception as exc:
                self._drop(len(batch), exc)
            else:
                self._failing = False
            finally:
                _writing.active = was_writing
        finally:
            if acquired:
                self._flush_lock.release()

    def _write(self, batch: list[_Pending]) -> None:
        from monitoring.models import Log
        from persistence.sql import insert_rows

        alias = router.db_for_write(Log)
        if connections[alias].in_atomic_block:
            # In a caller's transaction a dangling execution id would only fail at the
            # caller's commit: check the ids first, and keep a failed insert in a savepoint.
            self._learn_executions(batch, Log, alias)
            with transaction.atomic(using=alias):
                insert_rows(Log, self._rows(batch, trust=False), using=alias)
            return
        try:
            insert_rows(Log, self._rows(batch, trust=True), using=alias)
        except IntegrityError:
            # Our own transaction refused a dangling execution id at commit: find it, then retry.
            self._known_executions.clear()
            self._learn_executions(batch, Log, alias)
            insert_rows(Log, self._rows(batch, trust=False), using=alias)

    def _rows(self, batch: list[_Pending], *, trust: bool) -> list[dict[str, Any]]:
        """The rows' values; unless `trust`, an execution not known to exist is kept in metadata only."""
        from monitoring.tracing import clean_metadata

        rows = []
        for pending in batch:
            execution_id, metadata = pending.execution_id, pending.metadata
            if execution_id is not None and not trust and execution_id not in self._known_executions:
                execution_id, metadata = None, {**metadata, "execution_id": execution_id}
            rows.append(
                {
                    "execution_id": execution_id,
                    "source": pending.source,
                    "level": pending.level,
                    "message": pending.message,
                    "metadata": clean_metadata(metadata),
                    "timestamp": pending.timestamp,
                }
            )
        return rows

    def _learn_executions(self, batch: list[_Pending], log_model: type[Log], alias: str) -> None:
        unknown = {p.execution_id for p in batch if p.execution_id} - self._known_executions
        if not unknown:
            return
        execution_model = apps.get_model("orchestration", "Execution")
        found = (
            execution_model._base_manager.using(alias).filter(pk__in=unknown).order_by().values_list("pk", flat=True)
        )
        if len(self._known_executions) + len(unknown) > KNOWN_EXECUTIONS_LIMIT:
            self._known_executions.clear()
        self._known_executions |= {str(pk) for pk in found}

    def _drop(self, count: int, exc: Exception) -> None:
        self.dropped += count
        # A known execution may have been deleted since: check them all again next time.
        self._known_executions.clear()
        if self._failing:
            return
        self._failing = True
        with suppress(Exception):  # stderr itself may be gone; nothing is left to tell then
            sys.stderr.write(
                f"monitoring: dropped {count} log record(s), the logs table could not be written "
                f"({type(exc).__name__}: {exc}); further drops are silent until a write succeeds\n"
            )

    def close(self) -> None:
        """Stop the flusher, write what is left, and forget this handler."""
        self._closed = True
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread() and thread.is_alive():
            thread.join(timeout=5)
        try:
            self._write_pending()
        finally:
            with _handlers_lock:
                _handlers.discard(self)
            super().close()


def flush_database_logs() -> None:
    """Write the queued records of every live handler now (the engine calls this when a run finishes)."""
    with _handlers_lock:
        handlers = list(_handlers)
    for handler in handlers:
        handler.flush()


def discard_database_logs() -> int:
    """Forget every queued record of every live handler; how many were forgotten (for test isolation)."""
    with _handlers_lock:
        handlers = list(_handlers)
    discarded = 0
    for handler in handlers:
        with handler._queue_lock:
            discarded += len(handler._queue)
            handler._queue.clear()
    return discarded


def _after_fork_in_child() -> None:
    # The parent's flusher thread did not survive the fork and its locks may be held forever.
    global _handlers_lock
    _handlers_lock = threading.Lock()
    for handler in list(_handlers):
        handler._reset_threading()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
