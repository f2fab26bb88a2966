"""What keeps running steps alive and recoverable while their tools work.

One heartbeat thread per worker process renews the leases of every step the
process holds in one statement (so the sweeper knows the worker lives), and
the same statement tells it which of their runs were cancelled and which
steps another worker took over. It also renews the steps' resource locks
and writes a checkpoint with a tool's reported progress at least every
ORCHESTRATE_CHECKPOINT_SECONDS. The thread starts with the first step held
and sleeps while none is; steps that end before the next beat cost nothing.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from orchestration.engine.checkpointing import checkpoint_run
from orchestration.models import ExecutionStatus, ExecutionStep, StepStatus
from safety.locks import renew

logger = logging.getLogger(__name__)


def lease_deadline() -> datetime:
    return timezone.now() + timedelta(seconds=settings.ORCHESTRATE_LEASE_SECONDS)


@dataclass
class Held:
    """A step this process runs, as the heartbeat sees it."""

    step_id: uuid.UUID
    worker: str
    execution_id: uuid.UUID
    step_number: int
    locked: list[str] = field(default_factory=list)
    lock_holder: str = ""
    lost: threading.Event = field(default_factory=threading.Event)
    cancelled: threading.Event = field(default_factory=threading.Event)
    progress: dict[str, Any] | None = None
    progress_checkpointed: bool = True
    last_checkpoint: float = field(default_factory=time.monotonic)

    def report_progress(self, state: dict[str, Any]) -> None:
        self.progress = dict(state)
        self.progress_checkpointed = False


_RENEW = (
    "UPDATE execution_steps SET lease_expires_at = %s "
    "WHERE id IN ({ids}) AND status = %s AND claimed_by IN ({workers}) "
    "RETURNING id, claimed_by, (SELECT status FROM executions e WHERE e.id = execution_steps.execution_id)"
)


class Heartbeat:
    def __init__(self) -> None:
        self._held: dict[uuid.UUID, Held] = {}
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pid: int | None = None

    def hold(self, held: Held) -> Held:
        with self._lock:
            self._held[held.step_id] = held
            if self._pid != os.getpid():
                self._pid = os.getpid()
                threading.Thread(target=self._beat_forever, name="orchestrate-heartbeat", daemon=True).start()
            self._wake.notify()
        return held

    def release(self, held: Held) -> None:
        with self._lock:
            self._held.pop(held.step_id, None)

    def _beat_forever(self) -> None:
        interval = min(settings.ORCHESTRATE_LEASE_SECONDS / 3, settings.ORCHESTRATE_CHECKPOINT_SECONDS)
        while True:
            with self._lock:
                while not self._held:
                    self._wake.wait()
            time.sleep(interval)
            with self._lock:
                held = list(self._held.values())
            if not held:
                continue
            try:
                close_old_connections()
                self.beat(held)
            except DatabaseError:
                logger.warning("The heartbeat could not reach the database", exc_info=True)
            finally:
                close_old_connections()

    def beat(self, held: list[Held]) -> None:
        """One renewal of the given steps' leases, then their locks and due checkpoints."""
        pk = ExecutionStep._meta.pk
        ids = [pk.get_db_prep_value(entry.step_id, connection) for entry in held]
        workers = sorted({entry.worker for entry in held})
        deadline = connection.ops.adapt_datetimefield_value(lease_deadline())
        sql = _RENEW.format(ids=", ".join(["%s"] * len(ids)), workers=", ".join(["%s"] * len(workers)))
        with connection.cursor() as cursor:
            cursor.execute(sql, [deadline, *ids, StepStatus.RUNNING.value, *workers])
            rows = cursor.fetchall()
        found = {uuid.UUID(str(row[0])): (row[1], row[2]) for row in rows}
        for entry in held:
            claimed_by, run_status = found.get(entry.step_id, ("", None))
            if claimed_by != entry.worker:
                entry.lost.set()
                continue
            if run_status == ExecutionStatus.CANCELLED:
                entry.cancelled.set()
            if entry.locked:
                renew(entry.locked, entry.lock_holder, settings.ORCHESTRATE_LEASE_SECONDS)
            due = time.monotonic() - entry.last_checkpoint >= settings.ORCHESTRATE_CHECKPOINT_SECONDS
            if due and entry.progress is not None and not entry.progress_checkpointed:
                entry.progress_checkpointed = True
                checkpoint_run(
                    entry.execution_id,
                    reason=f"step {entry.step_number} running",
                    progress={entry.step_number: entry.progress},
                )
                entry.last_checkpoint = time.monotonic()


_heartbeat = Heartbeat()


def heartbeat() -> Heartbeat:
    return _heartbeat
