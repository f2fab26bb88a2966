"""How work reaches a worker: one code path, two transports.

In the embedded mode a task runs on a worker thread of this process; in the
celery mode it is a Celery message. Either way it is sent only after the
transaction that made it runnable commits, so the worker sees its rows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol, TypeVar

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from orchestration.engine.infrastructure import BROKER_ERRORS
from orchestration.models import Execution, ExecutionStatus, ExecutionStep

logger = logging.getLogger(__name__)
T = TypeVar("T")


def enqueue_plan(execution_id: object, then: Callable[[bool], None] | None = None) -> None:
    """Send the run to the planner once the transaction commits; `then` hears whether the broker took it."""

    def send() -> None:
        sent = _send("plan", str(execution_id))
        if then is not None:
            then(sent)

    transaction.on_commit(send)


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


def enqueue_steps(step_ids: Iterable[object], delay: float = 0.0, *, tools: Mapping[Any, str] | None = None) -> None:
    ids = [str(step_id) for step_id in step_ids]
    if not ids:
        return
    ExecutionStep.objects.filter(pk__in=ids).update(queued_at=queued_stamp())
    send_steps(ids, delay, tools=tools)


def queued_stamp() -> datetime | None:
    """What a step's queued_at becomes when it is sent now: None when it is left for the server's sweeper."""
    if settings.ORCHESTRATE_RUN_MODE == "embedded" and not _runs_steps_here:
        return None
    return timezone.now()


def send_steps(step_ids: Iterable[object], delay: float = 0.0, *, tools: Mapping[Any, str] | None = None) -> None:
    """Send steps whose queued_at the caller already stamped (with `queued_stamp()`), after commit.

    Many quick steps ready at once (`tools` names each step's tool; a tool
    is quick once a step of it finished within QUICK_STEP_MS in this
    process), as in a wide fan-out, go in batches: a worker runs the steps of
    its batch one after another, each claimed in the finish of the one before
    (one write commit per step, no broker round trip), for at most
    ORCHESTRATE_CONTINUE_SECONDS, and then sends what is left of it one step
    per message. Other steps (a model's answer, a web page) always go one per
    message, so no worker holds back a step another could start.
    """
    if settings.ORCHESTRATE_RUN_MODE == "embedded" and not _runs_steps_here:
        return
    ids = [str(step_id) for step_id in step_ids]
    tool_of = {str(step_id): tool for step_id, tool in (tools or {}).items()}
    quick = [step_id for step_id in ids if _quick_tools.get(tool_of.get(step_id, ""), False)]
    batched = set(quick)
    for message in [[step_id] for step_id in ids if step_id not in batched] + batches(quick):
        transaction.on_commit(partial(_send, "step", " ".join(message), delay))


# A step whose tool finished within this many milliseconds (in this process, the last time) is quick.
QUICK_STEP_MS = 20
_quick_tools: dict[str, bool] = {}


def note_duration(tool: str, duration_ms: int) -> None:
    """Remember whether the tool's step, which just ran in this process, was quick."""
    _quick_tools[tool] = duration_ms <= QUICK_STEP_MS


# Quick steps go at most this many to a message, in at least BATCHES_AT_LEAST messages (so at least as
# many workers as that can share them): batching starts beyond that many ready steps.
BATCH_AT_MOST = 32
BATCHES_AT_LEAST = 16


def batches(step_ids: list[str]) -> list[list[str]]:
    size = min(BATCH_AT_MOST, max(1, -(-len(step_ids) // BATCHES_AT_LEAST)))
    return [step_ids[start : start + size] for start in range(0, len(step_ids), size)]


def continue_with(ready: list[T], until: float) -> tuple[T | None, list[T]]:
    """Of the steps a finished step made ready, the one its worker runs next itself, and those to send.

    A worker that made a step ready runs it at once, without a round trip
    through the broker and a claim by another worker (the dominant cost of
    a short step), until `until` (a `time.monotonic()` value): then it
    sends everything, so the other work waiting for workers gets its turn.
    """
    if not ready or time.monotonic() >= until or (settings.ORCHESTRATE_RUN_MODE == "embedded" and not _runs_steps_here):
        return None, ready
    return ready[0], ready[1:]


def enqueue_sweep() -> None:
    _send("sweep", "")


class Transport(Protocol):
    def send(self, kind: str, argument: str, delay: float) -> None: ...


_transports: dict[str, Transport] = {}


def use_transport(mode: str, transport: Transport) -> None:
    """Register how work reaches workers in a run mode (OrchestrationConfig.ready() does, for both)."""
    _transports[mode] = transport


def _send(kind: str, argument: str, delay: float = 0.0) -> bool:
    """Hand the work to a worker; False when the broker could not take it (the sweeper sends it later)."""
    try:
        _transports[str(settings.ORCHESTRATE_RUN_MODE)].send(kind, argument, delay)
    except BROKER_ERRORS as exc:
        logger.warning("Could not send %s %s to the workers (%s); the sweeper sends it again", kind, argument, exc)
        _mark_unsent(kind, argument)
        return False
    return True


def _mark_unsent(kind: str, object_id: str) -> None:
    """Undo the "sent" stamp of work the broker refused, so the next sweep sends it, not one in minutes."""
    try:
        if kind == "step":
            ExecutionStep.objects.filter(pk=object_id).update(queued_at=None)
        elif kind == "plan":
            # A pending run older than the lease is one the sweeper plans again: make it one now.
            due = timezone.now() - timedelta(seconds=settings.ORCHESTRATE_LEASE_SECONDS + 1)
            Execution.objects.filter(pk=object_id, status=ExecutionStatus.PENDING).update(updated_at=due)
    except DatabaseError:
        logger.warning("Could not mark %s %s unsent either; the sweeper finds it later", kind, object_id)
