"""Running the engine in tests, in whichever mode the suite runs.

With REDIS_URL set (the PostgreSQL + Redis pass of CI) runs go through a
real Celery worker process started once for the session; otherwise through
the embedded worker threads. `CeleryProcess` also starts extra workers and
beat for the tests that kill them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from orchestration.models import FINISHED_STATUSES, Execution
from tests.support.polling import eventually

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# Workers started by tests write their buffered spans and metrics this often.
TELEMETRY_FLUSH_SECONDS = 0.2


def wait_for(
    execution: Execution | uuid.UUID | str, statuses: Collection[str] = FINISHED_STATUSES, timeout: float = 30.0
) -> Execution:
    """The run, re-read, once its status is one of `statuses` (finished, by default)."""
    execution_id = execution.pk if isinstance(execution, Execution) else execution

    def reached() -> Execution | None:
        current = Execution.objects.get(pk=execution_id)
        return current if current.status in statuses else None

    def explain() -> str:
        current = Execution.objects.get(pk=execution_id)
        steps = [(s.step_number, s.tool, s.status, s.error) for s in current.steps.all()]
        return f"the run is {current.status}; steps: {steps}; error: {current.error}"

    return eventually(reached, what=f"the run to be {'/'.join(sorted(statuses))}", timeout=timeout, explain=explain)


def wait_for_log(execution: Execution, text: str, timeout: float = 10.0) -> None:
    """Wait until a log line of the run containing `text` is in the logs table (workers flush on their own)."""
    from monitoring.log_handler import flush_database_logs
    from monitoring.models import Log

    def logged() -> bool:
        flush_database_logs()
        return Log.objects.filter(execution=execution, message__contains=text).exists()

    eventually(logged, what=f"a log line of the run containing {text!r}", timeout=timeout, interval=0.1)


def wait_for_rows(count: Callable[[], int], expected: int, timeout: float = 10.0) -> None:
    """Wait until `count()` reaches `expected`: spans and metrics are written by each worker
    process's telemetry batch, at most ORCHESTRATE_TELEMETRY_FLUSH_SECONDS behind."""
    eventually(
        lambda: count() >= expected,
        what=f"{expected} rows",
        timeout=timeout,
        interval=0.1,
        explain=lambda: f"{count()} so far",
    )


def redis_url() -> str:
    """The Redis the tests use; skipped (a failure in CI) when none answers."""
    import redis

    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis is not reachable at {url}: {exc}")
    return url


def database_url() -> str:
    """The URL of the test database, for worker processes."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class CeleryProcess:
    """A real `celery worker` or `celery beat` process in its own process group."""

    def __init__(self, kind: str, **env: str) -> None:
        self.kind = kind
        self.name = f"test{id(self)}@{socket.gethostname()}"
        environment = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "REDIS_URL": redis_url(),
            "ORCHESTRATE_RUN_MODE": "celery",
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            # A worker's log lines are written by its own flusher thread, as in production.
            "ORCHESTRATE_LOG_FLUSHER": "1",
            "ORCHESTRATE_TELEMETRY_FLUSHER": "1",
            "ORCHESTRATE_TELEMETRY_FLUSH_SECONDS": str(TELEMETRY_FLUSH_SECONDS),
            **env,
        }
        if kind == "worker":
            args = ["worker", "--pool=prefork", f"--concurrency={env.get('CONCURRENCY', '2')}", "--without-mingle"]
            args += ["--without-gossip", "-n", self.name, "-l", "INFO"]
        else:
            args = ["beat", "-l", "INFO", "--schedule", f"/tmp/orchestrate-beat-{os.getpid()}-{id(self)}"]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", *args],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.output: list[str] = []
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        ready_mark = "ready." if kind == "worker" else "beat: Starting..."
        self._ready_mark = ready_mark
        if not self._ready.wait(45):
            self.kill()
            raise AssertionError(f"celery {kind} did not start:\n{''.join(self.output[-40:])}")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            if self._ready_mark in line:
                self._ready.set()

    def kill(self) -> None:
        """SIGKILL the whole process group: the machine died, nothing cleans up."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def use_celery(settings_fixture: Any) -> None:
    """Send this process's work to Celery workers over the tests' Redis."""
    from config.celery import app

    settings_fixture.ORCHESTRATE_RUN_MODE = "celery"
    app.conf.update(broker_url=redis_url())


@pytest.fixture(scope="session")
def session_worker(django_db_setup, django_db_blocker):
    """One Celery worker for the session, when the suite runs in the celery mode."""
    if settings.ORCHESTRATE_RUN_MODE != "celery":
        yield None
        return
    with django_db_blocker.unblock():
        worker = CeleryProcess(
            "worker", CONCURRENCY="4", ORCHESTRATE_RETRY_BACKOFF="0.2", ORCHESTRATE_LEASE_SECONDS="5"
        )
    yield worker
    worker.stop()


def wait_until_idle(worker: CeleryProcess | None, timeout: float = 30.0) -> None:
    """Let in-flight work finish before the test's tables are flushed under it."""
    if worker is None:
        from learning.services import jobs as learning_jobs
        from orchestration.engine.embedded import runtime

        assert runtime().wait_idle(timeout), "embedded workers still busy"
        assert learning_jobs.wait_idle(timeout), (
            "learning still busy"
        )  # learning from the runs that just ended, on its own thread
        return
    import redis

    from config.celery import app

    queue = redis.Redis.from_url(redis_url())

    def idle() -> bool:
        inspect = app.control.inspect(destination=[worker.name], timeout=0.5)
        busy = [inspect.active(), inspect.reserved(), inspect.scheduled()]
        return queue.llen(str(settings.CELERY_TASK_DEFAULT_QUEUE)) == 0 and all(
            reply is not None and not any(reply.values()) for reply in busy
        )

    eventually(idle, what="the Celery worker to be idle", timeout=timeout, interval=0.1)
    # And the workers' last telemetry batch is written before the tables are flushed under it.
    time.sleep(3 * TELEMETRY_FLUSH_SECONDS)


@pytest.fixture
def engine(transactional_db, session_worker, settings):
    """Runs submitted work the way this pass of the suite is configured to."""
    settings.ORCHESTRATE_RETRY_BACKOFF = 0.2
    settings.ORCHESTRATE_LEASE_SECONDS = 5
    if session_worker is not None:
        use_celery(settings)
    yield settings.ORCHESTRATE_RUN_MODE
    wait_until_idle(session_worker)
