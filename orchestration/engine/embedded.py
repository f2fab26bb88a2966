"""The embedded run mode: worker threads inside this process.

The functions of the task table (orchestration/tasks.py, registered with
`use_tasks()` in OrchestrationConfig.ready()) run here on a thread pool; a
retried step waits on a timer; the sweeper runs on its own thread when the
process is a server (or the `orchestrate` command) that should resume runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from monitoring.batching import flush_telemetry
from orchestration.engine.infrastructure import (
    RETRY_FIRST_SECONDS,
    StepInterrupted,
    forget_broken_connection,
    release_interrupted,
)

logger = logging.getLogger(__name__)
_started_at = timezone.now()
_tasks: dict[str, Callable[[str], None]] = {}


def use_tasks(tasks: Mapping[str, Callable[[str], None]]) -> None:
    _tasks.update(tasks)


class EmbeddedTransport:
    """Work sent in the embedded mode goes to this process's worker threads."""

    def send(self, kind: str, argument: str, delay: float) -> None:
        runtime().submit(kind, argument, delay)


def _run(kind: str, object_id: str) -> None:
    try:
        _tasks[kind](object_id)
    except StepInterrupted as exc:
        # SQLite busy past its timeout, or a lost PostgreSQL: give the step back and run it again shortly.
        logger.warning("%s; running it again in %gs", exc, RETRY_FIRST_SECONDS)
        forget_broken_connection()
        timer = threading.Timer(RETRY_FIRST_SECONDS, _run_again, args=(exc,))
        timer.daemon = True
        timer.start()
    except Exception:
        logger.exception("Embedded %s task for %s failed", kind, object_id)
        close_old_connections()
        connection.close_if_unusable_or_obsolete()


def _run_again(interrupted: StepInterrupted) -> None:
    try:
        release_interrupted(interrupted.step_id, interrupted.as_retry())
    except DatabaseError:
        logger.warning("Could not give back step %s yet; the sweeper will", interrupted.step_id)
        return
    finally:
        connection.close()
    runtime().submit("step", interrupted.task_argument)


class EmbeddedRuntime:
    def __init__(self, workers: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="orchestrate-worker")
        self._sweeper: threading.Thread | None = None
        self._stopping = threading.Event()
        self._in_flight = 0
        self._idle = threading.Condition()

    def submit(self, kind: str, object_id: str, delay: float = 0.0) -> None:
        with self._idle:
            self._in_flight += 1
        if delay > 0:
            timer = threading.Timer(delay, self._pool.submit, args=(self._tracked, kind, object_id))
            timer.daemon = True
            timer.start()
        else:
            self._pool.submit(self._tracked, kind, object_id)

    def _tracked(self, kind: str, object_id: str) -> None:
        try:
            _run(kind, object_id)
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no task is queued, waiting on a timer or running; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout=timeout)

    def start_sweeper(self) -> None:
        """Resume runs left behind by a previous process, and keep watching."""
        if self._sweeper is None:
            self._sweeper = threading.Thread(target=self._sweep_forever, name="orchestrate-sweeper", daemon=True)
            self._sweeper.start()

    def _sweep_forever(self) -> None:
        # This process's queue starts empty: what a previous process had queued is lost.
        _run("sweep", _started_at.isoformat())
        while not self._stopping.wait(settings.ORCHESTRATE_SWEEP_SECONDS):
            _run("sweep", "")
            connection.close()

    def shutdown(self) -> None:
        self._stopping.set()
        self._pool.shutdown(wait=True)
        flush_telemetry()


_runtime: EmbeddedRuntime | None = None
_lock = threading.Lock()


def runtime() -> EmbeddedRuntime:
    global _runtime
    with _lock:
        if _runtime is None:
            _runtime = EmbeddedRuntime(settings.ORCHESTRATE_WORKERS)
        return _runtime
