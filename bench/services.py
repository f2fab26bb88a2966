"""The services a benchmark child needs: a Celery worker process, a scratch PostgreSQL database."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


class WorkerFailed(RuntimeError):
    pass


class CeleryWorker:
    """`celery -A <app> worker` in its own process group, output in a log file.

    It logs at WARNING so that neither the engine's nor the bare worker
    writes a line per task; readiness is checked with a remote-control ping.
    """

    def __init__(self, app: str, *, queue: str, concurrency: int, env: dict[str, str], log_path: Path) -> None:
        self.name = f"bench{os.getpid()}-{app.replace('.', '-')}@{socket.gethostname()}"
        self.log_path = log_path
        self._log = log_path.open("w")
        args = ["worker", "--pool=prefork", f"--concurrency={concurrency}", "--without-mingle", "--without-gossip"]
        args += ["-Q", queue, "-n", self.name, "-l", "WARNING"]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", app, *args],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, celery_app: Any, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise WorkerFailed(f"celery worker exited with {self.process.returncode}:\n{self.log_tail()}")
            if celery_app.control.ping(destination=[self.name], timeout=0.5):
                return
        self.stop()
        raise WorkerFailed(f"celery worker did not answer a ping within {timeout:g}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        self._log.flush()
        return "".join(self.log_path.read_text(errors="replace").splitlines(keepends=True)[-lines:])

    def stop(self) -> None:
        """Warm shutdown (SIGTERM to its process group), SIGKILL if it hangs."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()


def _admin_url(database_url: str) -> tuple[str, str]:
    """The URL of the server's `postgres` database, and the name of the database in `database_url`."""
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if not name or not name.replace("_", "").isalnum():
        raise ValueError(f"unexpected database name {name!r} in {database_url}")
    scheme = "postgresql" if parts.scheme in {"postgres", "postgresql"} else parts.scheme
    return urlunsplit((scheme, parts.netloc, "/postgres", parts.query, "")), name


def recreate_database(database_url: str) -> None:
    import psycopg

    admin, name = _admin_url(database_url)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def drop_database(database_url: str) -> None:
    import psycopg

    admin, name = _admin_url(database_url)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
