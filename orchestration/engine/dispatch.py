"""How work reaches a worker: one code path, two transports.

In the embedded mode a task runs on a worker thread of this process; in the
celery mode it is a Celery message. Either way it is sent only after the
transaction that made it runnable commits, so the worker sees its rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from typing import Protocol

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from orchestration.models import ExecutionStep


def enqueue_plan(execution_id: object) -> None:
    transaction.on_commit(lambda: _send("plan", str(execution_id)))


_runs_steps_here = True


@contextmanager
def handed_off_to_workers() -> Iterator[None]:
    """While inside, this process only decides and runs no steps (an operator's command).

    In the embedded mode the work it makes ready is left unsent, and the
    server's sweeper, which runs the steps, picks it up within seconds.
    """
    global _runs_steps_here
    previous, _runs_steps_here = _runs_steps_here, False
    try:
        yield
    finally:
        _runs_steps_here = previous


def enqueue_steps(step_ids: Iterable[object], delay: float = 0.0) -> None:
    ids = [str(step_id) for step_id in step_ids]
    if not ids:
        return
    ExecutionStep.objects.filter(pk__in=ids).update(queued_at=queued_stamp())
    send_steps(ids, delay)


def queued_stamp() -> datetime | None:
    """What a step's queued_at becomes when it is sent now: None when it is left for the server's sweeper."""
    if settings.ORCHESTRATE_RUN_MODE == "embedded" and not _runs_steps_here:
        return None
    return timezone.now()


def send_steps(step_ids: Iterable[object], delay: float = 0.0) -> None:
    """Send steps whose queued_at the caller already stamped (with `queued_stamp()`), after commit."""
    if settings.ORCHESTRATE_RUN_MODE == "embedded" and not _runs_steps_here:
        return
    for step_id in step_ids:
        transaction.on_commit(partial(_send, "step", str(step_id), delay))


def enqueue_sweep() -> None:
    _send("sweep", "")


class Transport(Protocol):
    def send(self, kind: str, argument: str, delay: float) -> None: ...


_transports: dict[str, Transport] = {}


def use_transport(mode: str, transport: Transport) -> None:
    """Register how work reaches workers in a run mode (OrchestrationConfig.ready() does, for both)."""
    _transports[mode] = transport


def _send(kind: str, argument: str, delay: float = 0.0) -> None:
    _transports[str(settings.ORCHESTRATE_RUN_MODE)].send(kind, argument, delay)
