"""Where the learning work runs: after the run's end commits, never on a step's path.

In the celery mode a finished run is a `learning.learn_from_run` message; in
the embedded mode it goes to one background thread of this process that
learns from runs one at a time. With ORCHESTRATE_LEARNING off nothing is
sent (the nightly batch still reads every run).
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections.abc import Callable
from functools import partial

from django.conf import settings
from django.db import close_old_connections, connection, transaction

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
        self._queue: queue.Queue[str] = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition()
        self._thread = threading.Thread(target=self._work, name="orchestrate-learning", daemon=True)
        self._thread.start()

    def put(self, execution_id: str) -> None:
        with self._idle:
            self._pending += 1
        self._queue.put(execution_id)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every run sent so far has been learned from; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)

    def _work(self) -> None:
        while True:
            execution_id = self._queue.get()
            try:
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
