"""The Celery app for the distributed run mode (REDIS_URL set).

Configuration comes from Django settings (CELERY_* names), so there is one
place to read; tasks are found in each app's tasks module. Each worker's
main process also runs the sweeper (leader-elected, see
orchestration/engine/sweeper.py), so recovery never depends on beat alone.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from celery import Celery
from celery.signals import (
    after_setup_logger,
    task_postrun,
    task_prerun,
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutting_down,
)

from config.memory import freeze_startup_objects

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("orchestrate")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def start_sweeper(**kwargs: Any) -> None:
    from orchestration.engine import sweeper

    sweeper.start_in_worker()


def stop_sweeper(**kwargs: Any) -> None:
    from orchestration.engine import sweeper

    sweeper.stop()


def keep_database_connections(**kwargs: Any) -> None:
    """A worker process keeps its database connection from one task to the next.

    Celery's Django fixup closes every connection before and after each task
    unless CELERY_DB_REUSE_MAX is set (settings.py sets it): reconnecting to
    PostgreSQL costs several milliseconds, more than a step's own statements.
    Django's own rule decides instead, as for a request: the connection is
    dropped when it errored or is older than the age set here. A connection
    that sat idle is pinged before the next task uses it (`before_task`),
    so a restarted database costs a reconnect, not a failed task.
    """
    from django.db import connections

    for alias in connections:
        connections.settings[alias]["CONN_MAX_AGE"] = WORKER_CONNECTION_MAX_AGE


_last_task_ended = 0.0


def before_task(**kwargs: Any) -> None:
    """Drop connections that errored or aged out; ping those that sat idle.

    Django's own health check pings before every task: a round trip per step,
    on a busy worker the most of any single cost but the step's two commits.
    A connection that served the previous task a moment ago without an error
    is not pinged; should the database have gone away in that moment, the
    task's first query fails and the task is retried (orchestration/tasks.py).
    """
    from django.db import close_old_connections, connections

    close_old_connections()
    if time.monotonic() - _last_task_ended < PING_AFTER_IDLE_SECONDS:
        return
    for connection in connections.all(initialized_only=True):
        if connection.connection is not None and not connection.is_usable():
            connection.close()


def after_task(**kwargs: Any) -> None:
    global _last_task_ended
    from django.db import close_old_connections

    close_old_connections()
    _last_task_ended = time.monotonic()


def close_connections(**kwargs: Any) -> None:
    """A worker process that exits says goodbye to the database, so its sessions end with it."""
    from django.db import connections

    connections.close_all()


def console_shows_the_workers_level(logger: logging.Logger, loglevel: int, **kwargs: Any) -> None:
    """`celery worker -l WARNING` shows warnings and up on the console, not every step's INFO lines.

    Celery's console handler on the root logger has no level of its own, and
    the domain loggers pass INFO for the run pages (config/settings.py,
    LOGGING), so every step's lines reached the console whatever `-l` said;
    formatting and writing them was a visible share of a busy worker's time.
    """
    for handler in logger.handlers:
        handler.setLevel(loglevel)


# Seconds a worker process keeps one database connection (recycled, so server-side state cannot grow forever).
WORKER_CONNECTION_MAX_AGE = 600
# A connection idle for longer than this is pinged before the next task uses it.
PING_AFTER_IDLE_SECONDS = 1.0

after_setup_logger.connect(console_shows_the_workers_level, dispatch_uid="orchestrate-console-level")
worker_process_init.connect(keep_database_connections, dispatch_uid="orchestrate-keep-db-connections")
worker_process_init.connect(freeze_startup_objects, dispatch_uid="orchestrate-freeze-startup-objects")
task_prerun.connect(before_task, dispatch_uid="orchestrate-close-old-db-connections-before")
task_postrun.connect(after_task, dispatch_uid="orchestrate-close-old-db-connections-after")
worker_process_shutdown.connect(close_connections, dispatch_uid="orchestrate-close-db-connections")
worker_ready.connect(start_sweeper, dispatch_uid="orchestrate-start-sweeper")
worker_shutting_down.connect(stop_sweeper, dispatch_uid="orchestrate-stop-sweeper")
