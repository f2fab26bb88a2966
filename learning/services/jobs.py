"""Where the learning work runs: after the run's end commits, never on a step's path.

In the celery mode a finished run is a `learning.learn_from_run` message; in
the embedded mode it goes to one background thread of this process that
learns from runs one at a time. That thread shares the process (and its
interpreter lock and SQLite writer) with the step workers, so it waits for a
quiet moment, no step running, before each job, for at most
ORCHESTRATE_LEARNING_MAX_DELAY seconds after the run ended (bench/learning.py
measures the difference). With ORCHESTRATE_LEARNING off nothing is sent (the
nightly batch still reads every run).
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable
from functools import partial

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.utils import timezone

from orchestration.models import ExecutionStep, StepStatus

logger = logging.getLogger(__name__)

_learn: Callable[[str], None] | None = None
_celery_send: Callable[[str], None] | None = None


def use_learner(learn: Callable[[str], None], send_to_celery: Callable[[str], None]) -> None:
    """Register what learns from a run, in both modes (LearningConfig.ready() does)."""
    global _learn, _celery_send
    _learn, _celery_send = learn, send_to_celery


def schedule_learning(execution_id: uuid.UUID | str) -> None:
    """Learn from the run once the current transaction commits (at once outside one)."""
    if not settings.ORCHESTRATE_LEARNING:
        return
    transaction.on_commit(partial(_send, str(execution_id)))


def _send(execution_id: str) -> None:
    if settings.ORCHESTRATE_RUN_MODE == "celery" and _celery_send is not None:
        try:
            _celery_send(execution_id)
        except Exception:  # a broker blip must not fail the finished run; the nightly batch catches up
            logger.warning("Could not send run %s to learning; the nightly batch will read it", execution_id)
        return
    _thread().put(execution_id)


class LearningThread:
    """One daemon thread that learns from finished runs in the order they ended."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[str, float]] = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition()
        self._thread = threading.Thread(target=self._work, name="orchestrate-learning", daemon=True)
        self._thread.start()

    def put(self, execution_id: str) -> None:
        with self._idle:
            self._pending += 1
        self._queue.put((execution_id, time.monotonic()))

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every run sent so far has been learned from; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)

    def _work(self) -> None:
        while True:
            execution_id, sent_at = self._queue.get()
            try:
                _wait_for_quiet(sent_at + settings.ORCHESTRATE_LEARNING_MAX_DELAY)
                if _learn is not None:
                    _learn(execution_id)
            except Exception:
                logger.exception("Learning from run %s failed", execution_id, extra={"execution_id": execution_id})
            finally:
                close_old_connections()
                connection.close()
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()


QUIET_POLL_SECONDS = 0.05
# Only this process's steps compete with its learning thread (claims are named host:pid:thread).
_this_process = f"{socket.gethostname()}:{os.getpid()}:"
# Steps of one run follow each other within milliseconds, and the next run's first step starts soon after
# the previous run ends: quiet means no step running for this long.
QUIET_SETTLE_SECONDS = 0.2


def _wait_for_quiet(deadline: float) -> None:
    """Wait until no step of this process has been running for a moment (or the deadline passes), so
    learning takes no interpreter time or SQLite writes from a step."""
    quiet_since: float | None = None
    while (now := time.monotonic()) < deadline:
        try:
            busy = ExecutionStep.objects.filter(
                status=StepStatus.RUNNING, lease_expires_at__gt=timezone.now(), claimed_by__startswith=_this_process
            ).exists()
        except DatabaseError:
            return
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since >= QUIET_SETTLE_SECONDS:
            return
        time.sleep(QUIET_POLL_SECONDS)


_worker: LearningThread | None = None
_lock = threading.Lock()


def _thread() -> LearningThread:
    global _worker
    with _lock:
        if _worker is None:
            _worker = LearningThread()
        return _worker


def wait_idle(timeout: float = 30.0) -> bool:
    """In the embedded mode, wait until the learning thread has caught up (tests and bench use it)."""
    return _worker is None or _worker.wait_idle(timeout)
