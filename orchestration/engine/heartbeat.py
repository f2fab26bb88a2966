"""What keeps a running step alive and recoverable while its tool works.

A thread beside the tool renews the step's lease (so the sweeper knows the
worker lives), writes a checkpoint with the tool's reported progress at
least every ORCHESTRATE_CHECKPOINT_SECONDS, and notices when the run was
cancelled or the step was taken over by another worker.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from orchestration.models import Execution, ExecutionStatus, ExecutionStep, StepStatus
from safety.locks import renew

logger = logging.getLogger(__name__)


def lease_deadline() -> Any:
    return timezone.now() + timedelta(seconds=settings.ORCHESTRATE_LEASE_SECONDS)


class StepHeartbeat:
    def __init__(
        self, step: ExecutionStep, worker: str, *, locked: list[str] | None = None, lock_holder: str = ""
    ) -> None:
        self.locked = list(locked or [])
        self.lock_holder = lock_holder
        self.step_id = step.pk
        self.step_number = step.step_number
        self.execution_id = step.execution_id
        self.worker = worker
        self.lost = threading.Event()
        self.cancelled = threading.Event()
        self._progress: dict[str, Any] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{step.pk}", daemon=True)

    def report_progress(self, state: dict[str, Any]) -> None:
        self._progress = dict(state)

    def __enter__(self) -> StepHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        from orchestration.engine.checkpointing import checkpoint_run

        checkpoint_every = settings.ORCHESTRATE_CHECKPOINT_SECONDS
        interval = min(settings.ORCHESTRATE_LEASE_SECONDS / 3, checkpoint_every)
        last_checkpoint = time.monotonic()
        try:
            while not self._stop.wait(interval):
                try:
                    renewed = ExecutionStep.objects.filter(
                        pk=self.step_id, status=StepStatus.RUNNING, claimed_by=self.worker
                    ).update(lease_expires_at=lease_deadline())
                    if not renewed:
                        self.lost.set()
                        return
                    if self.locked:
                        renew(self.locked, self.lock_holder, settings.ORCHESTRATE_LEASE_SECONDS)
                    status = Execution.objects.filter(pk=self.execution_id).values_list("status", flat=True).first()
                    if status == ExecutionStatus.CANCELLED:
                        self.cancelled.set()
                    if time.monotonic() - last_checkpoint >= checkpoint_every:
                        progress = {self.step_number: self._progress} if self._progress is not None else {}
                        checkpoint_run(self.execution_id, reason=f"step {self.step_number} running", progress=progress)
                        last_checkpoint = time.monotonic()
                except DatabaseError:
                    logger.warning("Heartbeat of step %s could not reach the database", self.step_id, exc_info=True)
        finally:
            connection.close()
