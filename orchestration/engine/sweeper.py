"""The sweeper inside each Celery worker: recovery does not hang on beat, or on a busy step queue.

Every worker's main process runs this thread; `recovery.sweep_as_leader()`
lets one of them sweep at a time, and another takes over within seconds
when that one dies. It runs beside the pool, not in it, so workers busy
with long steps still sweep. Beat, when it runs, sends sweeps too (on
their own queue); they are the same leader-elected sweep.

The prefork pool forks a new child whenever one dies. A child must not
inherit a database connection in use by this thread, so a fork waits for
the sweep in progress to end, and every sweep closes its connection.
"""

from __future__ import annotations

import logging
import os
import threading

from django.conf import settings
from django.db import DatabaseError, connection

from orchestration.engine.infrastructure import BROKER_ERRORS

logger = logging.getLogger(__name__)

# A sweep that meets these is skipped quietly; the next one, seconds later, tries again.
SERVICE_ERRORS: tuple[type[BaseException], ...] = (DatabaseError, *BROKER_ERRORS)

_sweeping = threading.Lock()
_thread: threading.Thread | None = None
_stop = threading.Event()


def start_in_worker() -> None:
    """Start the sweeper thread in this (main) worker process, once; off with ORCHESTRATE_WORKER_SWEEPER=false."""
    global _thread
    if not settings.ORCHESTRATE_WORKER_SWEEPER or _thread is not None:
        return
    os.register_at_fork(before=_sweeping.acquire, after_in_parent=_sweeping.release, after_in_child=_forget_in_child)
    _thread = threading.Thread(target=_sweep_forever, name="orchestrate-sweeper", daemon=True)
    _thread.start()


def stop() -> None:
    _stop.set()


def _forget_in_child() -> None:
    # A pool child has no sweeper thread; its copy of the lock was taken by the parent's fork.
    global _sweeping, _thread
    _sweeping = threading.Lock()
    _thread = None


def _sweep_forever() -> None:
    from orchestration.engine.recovery import sweep_as_leader

    while not _stop.wait(settings.ORCHESTRATE_SWEEP_SECONDS):
        with _sweeping:
            try:
                sweep_as_leader()
            except SERVICE_ERRORS as exc:
                logger.warning("Sweep skipped: a service is unreachable (%s)", exc)
            except Exception:
                logger.exception("Sweep failed")
            finally:
                connection.close()
