"""Private Redis and PostgreSQL servers for tests that stop and restart them.

A fault test must never restart the machine's shared services (other
people's tests use them), so it starts its own, on a spare port, in a
temporary directory, and throws them away afterwards. The binaries are the
distribution's (`redis-server`, `/usr/lib/postgresql/*/bin`); a test that
cannot find them skips (which fails in CI, see tests/conftest.py).
PostgreSQL refuses to run as root, so as root its commands run as the
`postgres` user.

The `private_redis` fixture makes one the broker of the test process;
`worker_on()` starts Celery workers on it.

`PrivateRedis(persist=False)` forgets every queued message on a restart,
like a Redis configured without persistence; that is the harder case for
the engine, which must send lost work again.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.engine import CeleryProcess
from tests.support.smtp_server import free_port


def _wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class PrivateRedis:
    def __init__(self, *, persist: bool = False) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed (apt-get install redis-server)")
        self.binary = binary
        self.port = free_port()
        self.directory = tempfile.mkdtemp(prefix="orchestrate-redis-")
        self.persist = persist
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.directory]
        args += ["--save", "", "--appendonly", "yes" if self.persist else "no", "--logfile", ""]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def postgres_bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


class PrivatePostgres:
    """A throwaway PostgreSQL cluster with one database, `orchestrate`, trusting local connections."""

    def __init__(self) -> None:
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            pytest.skip("PostgreSQL server binaries are not installed (apt-get install postgresql)")
        self.bin_dir = bin_dir
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="orchestrate-pg-"))
        self.data = self.directory / "data"
        self._as: list[str] = []
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root and there is no postgres user to run PostgreSQL as")
            os.chown(self.directory, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"] if shutil.which("runuser") else []
            if not self._as:
                pytest.skip("running as root without runuser to start PostgreSQL as postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "orchestrate")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/orchestrate"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self._as, str(self.bin_dir / tool), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=self.directory,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} -c fsync=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.directory / "log"), "-w", "start")
        _wait_for_port(self.port)

    def stop(self, mode: str = "fast") -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()

    def close(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture
def private_redis(settings: Any) -> Iterator[PrivateRedis]:
    """A Redis of the test's own as this process's broker (in the celery mode); gone after the test."""
    from config.celery import app

    server = PrivateRedis(persist=False)
    # The app keeps a connection pool and a producer pool bound to the broker it first met:
    # this test gets its own, and the others get theirs back untouched afterwards.
    pools: Any = app  # private attributes of Celery's app and AMQP objects
    previous_url, previous_pool = app.conf.broker_url, pools._pool
    settings.ORCHESTRATE_RUN_MODE = "celery"
    settings.REDIS_URL = settings.CELERY_BROKER_URL = server.url()
    app.conf.update(broker_url=server.url())
    pools._pool = None
    pools.amqp._producer_pool = None
    try:
        yield server
    finally:
        if pools._pool is not None:
            pools._pool.force_close_all()
        app.conf.update(broker_url=previous_url)
        pools._pool = previous_pool
        pools.amqp._producer_pool = None
        server.close()


def worker_on(redis_server: PrivateRedis, kind: str = "worker", **env: str) -> CeleryProcess:
    """A Celery worker (or beat) on a private Redis, sweeping every second as the product does."""
    defaults = {
        "CONCURRENCY": "2",
        "ORCHESTRATE_WORKER_SWEEPER": "true",
        "ORCHESTRATE_SWEEP_SECONDS": "1",
        "ORCHESTRATE_LEASE_SECONDS": "4",
    }
    return CeleryProcess(kind, **{**defaults, **env, "REDIS_URL": redis_server.url()})
