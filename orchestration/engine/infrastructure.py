"""Failures of the services under the engine (the database, the broker), told apart from failures of a step.

A step whose tool said no has failed; a step whose worker lost the database
or Redis for a moment has not: it is retried within seconds, and the run
goes on when the service is back. This module names those errors and
gives an interrupted step back so the retry can claim it at once, rather
than after its lease runs out.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import kombu.exceptions
import redis.exceptions
from celery import Task
from django.db import DatabaseError, InterfaceError, OperationalError, close_old_connections, connection

from orchestration.models import ExecutionStep, StepStatus

logger = logging.getLogger(__name__)

# What sending a Celery message raises when Redis is down or restarting.
BROKER_ERRORS: tuple[type[BaseException], ...] = (
    kombu.exceptions.OperationalError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    ConnectionError,
    TimeoutError,
)
# A lost or restarting database: the same query may well work a second later.
DATABASE_ERRORS: tuple[type[BaseException], ...] = (OperationalError, InterfaceError)
INFRASTRUCTURE_ERRORS = DATABASE_ERRORS + BROKER_ERRORS
# How soon an interrupted task runs again, and the longest wait between tries while a service stays down.
RETRY_FIRST_SECONDS = 1.0
RETRY_MAX_SECONDS = 5.0


class StepInterrupted(Exception):
    """A step's worker lost a service mid-step; the step is still claimed by `holder`, attempt `attempts`.

    `batch` is the steps the task was still to run after it (a batch of quick steps, see dispatch.py).
    """

    def __init__(self, step_id: uuid.UUID | str, holder: str, attempts: int, batch: list[str] | None = None) -> None:
        super().__init__(f"step {step_id} interrupted (held by {holder}, attempt {attempts})")
        self.step_id = str(step_id)
        self.holder = holder
        self.attempts = attempts
        self.batch = batch or []

    @property
    def task_argument(self) -> str:
        """What the retried task runs: the interrupted step, then the rest of its batch."""
        return " ".join([self.step_id, *self.batch])

    def as_retry(self) -> list[str | int]:
        """What the retried task carries to take the step back: [holder, attempts]."""
        return [self.holder, self.attempts]


def retry_delay(retries: int) -> float:
    return min(RETRY_MAX_SECONDS, RETRY_FIRST_SECONDS * 2**retries)


def forget_broken_connection() -> None:
    """Drop this thread's database connection if an error left it unusable, so the next query reconnects."""
    try:
        close_old_connections()
        if connection.connection is not None and not connection.is_usable():
            connection.close()
    except DatabaseError:
        connection.close()


def release_interrupted(step_id: str, interrupted: list[str | int] | None) -> None:
    """Give back a step its own earlier attempt left claimed when a service failed under it.

    Only that attempt's claim (same holder, same attempt count) is released,
    so a step another worker took over since is left alone.
    """
    if not interrupted:
        return
    step_id = step_id.split()[0]  # the first of a batch is the one interrupted
    holder, attempts = str(interrupted[0]), int(interrupted[1])
    released = ExecutionStep.objects.filter(
        pk=step_id, status=StepStatus.RUNNING, claimed_by=holder, attempts=attempts
    ).update(status=StepStatus.PENDING, claimed_by="", lease_expires_at=None, retry_at=None)
    if released:
        logger.info("Step %s was interrupted by a lost service; running it again", step_id)


# A task retries while a service stays down for up to about an hour; past that the sweeper takes over.
TASK_MAX_RETRIES = 720


@contextmanager
def retried_when_services_fail(task: Task, **kwargs: object) -> Iterator[None]:
    """Run a Celery task's body; on a lost database or broker, send the task again in seconds.

    A step interrupted mid-way is sent with its claim, so the retry takes it
    back at once (see `release_interrupted`). Without this the message would
    be acknowledged and lost, and the run would wait for the sweeper.
    """
    try:
        yield
    except StepInterrupted as exc:
        forget_broken_connection()
        logger.warning("%s; retrying", exc)
        # The step interrupted may be one the task went on to after its own (see steps.run_step).
        retried = {**kwargs, "step_id": exc.task_argument, "interrupted": exc.as_retry()}
        raise task.retry(kwargs=retried, countdown=retry_delay(task.request.retries)) from exc
    except INFRASTRUCTURE_ERRORS as exc:
        forget_broken_connection()
        logger.warning("%s %s could not reach a service (%s); retrying", task.name, kwargs, exc)
        raise task.retry(kwargs=kwargs, countdown=retry_delay(task.request.retries)) from exc
