"""Counting the database queries a process sends, for the engine benchmark.

`install()` hooks every Django connection (the `connection_created` signal)
with an execute wrapper that counts each statement sent through a Django
cursor: SELECT/INSERT/UPDATE/DELETE and savepoints. BEGIN is not counted
(psycopg sends it itself; SQLite's "BEGIN IMMEDIATE" does go through a
cursor and is left out so both backends count alike), nor is COMMIT, nor
the BEGIN and COMMIT of a transaction the engine opens itself (a step's
finish on PostgreSQL, persistence/sql.py), whose writes count as one commit.

In a Celery worker process (BENCH_QUERY_REDIS_KEY set) the count is also
added to a Redis counter by a small flusher thread, so the driver process
can read the total of all worker processes once they settle.

`profile()` additionally groups statements by their normalised SQL with
their count and time; it costs a little per query, so the benchmark uses it
only in an extra run that is not timed.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_lock = threading.Lock()
_local = threading.local()
_state: dict[str, Any] = {
    "installed": False,
    "count": 0,
    "flushed": 0,
    "commits": 0,
    "commits_flushed": 0,
    "flusher_pid": None,
    "redis": None,
}
_WRITES = ("INSERT", "UPDATE", "DELETE")
_profile: dict[str, list[float]] | None = None
_redis_key: str | None = None
# Long enough that the flusher's own Redis round trips are not a visible share of a worker's time
# (at 20 ms they were 5% of the interpreter lock's samples on a chain of no-op steps).
FLUSH_SECONDS = 0.25


def _count_commit() -> None:
    with _lock:
        _state["commits"] += 1


def _note_write(connection: Any) -> None:
    """A write commits on its own in autocommit, else once when its transaction commits."""
    if getattr(connection, "_bench_explicit", None) is not None:
        connection._bench_explicit = True  # a transaction the engine opened itself (transaction_flight)
        return
    if not connection.in_atomic_block:
        _count_commit()
        return
    marker = getattr(connection, "_bench_commit_marker", None)
    if marker is None:
        marker = connection._bench_commit_marker = lambda: _count_commit()
    # A rolled-back transaction clears run_on_commit, so the next one is marked afresh.
    if not any(entry[1] is marker for entry in connection.run_on_commit):
        connection.on_commit(marker)


def _wrapper(execute, sql, params, many, context):
    if getattr(_local, "paused", False):
        return execute(sql, params, many, context)
    connection = context["connection"]
    if sql in ("BEGIN", "COMMIT", "ROLLBACK"):
        # A transaction the engine opens and ends itself (persistence/sql.py, transaction_flight): its
        # writes count as one commit when it commits; the statements themselves are not counted.
        wrote = getattr(connection, "_bench_explicit", None)
        connection._bench_explicit = False if sql == "BEGIN" else None
        if sql == "COMMIT" and wrote:
            _count_commit()
        return execute(sql, params, many, context)
    if not sql.startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE; psycopg's own BEGIN never reaches a cursor
        with _lock:
            _state["count"] += 1
        if sql.lstrip().upper().startswith(_WRITES):
            _note_write(connection)
    if _profile is None:
        return execute(sql, params, many, context)
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        elapsed = time.perf_counter() - started
        key = normalise(sql)
        with _lock:
            if _profile is not None:
                entry = _profile.setdefault(key, [0, 0.0])
                entry[0] += 1
                entry[1] += elapsed


_WHITESPACE = re.compile(r"\s+")
_PLACEHOLDER_LIST = re.compile(r"\((?:%s|\?)(?:, (?:%s|\?))+\)")
_ROW_LIST = re.compile(r"\(\.\.\.\)(?:, \(\.\.\.\))+")


def normalise(sql: str) -> str:
    """The statement with whitespace collapsed and IN lists / VALUES rows folded."""
    text = _WHITESPACE.sub(" ", sql).strip()
    text = _PLACEHOLDER_LIST.sub("(...)", text)
    return _ROW_LIST.sub("(...), ...", text)


def _hook(connection: Any) -> None:
    if _wrapper not in connection.execute_wrappers:
        connection.execute_wrappers.append(_wrapper)
    _ensure_flusher()


def _on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    _hook(connection)


def install(redis_key: str | None = None) -> None:
    """Count this process's queries (idempotent); with a key, also add them up in Redis."""
    global _redis_key
    if _state["installed"]:
        return
    from django.db.backends.signals import connection_created

    _state["installed"] = True
    _redis_key = redis_key
    connection_created.connect(_on_connection_created, weak=False, dispatch_uid="bench.querycount")
    if redis_key:
        # Only the flusher thread writes to Redis (every FLUSH_SECONDS), never the task itself: a
        # round trip per task would be the benchmark's own cost, timed as the engine's.
        os.register_at_fork(after_in_child=_after_fork)


def install_from_env() -> None:
    if os.environ.get("BENCH_COUNT_QUERIES"):
        install(os.environ.get("BENCH_QUERY_REDIS_KEY") or None)


def hook_open_connections() -> None:
    """Hook the connections this thread opened before `install()`."""
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        _hook(connection)


def count() -> int:
    with _lock:
        return int(_state["count"])


def commits() -> int:
    """Transactions that wrote and committed (autocommit writes count one each)."""
    with _lock:
        return int(_state["commits"])


@contextmanager
def paused() -> Iterator[None]:
    """Do not count this thread's queries inside the block (the driver's polling)."""
    previous = getattr(_local, "paused", False)
    _local.paused = True
    try:
        yield
    finally:
        _local.paused = previous


@contextmanager
def profile() -> Iterator[dict[str, list[float]]]:
    """Statements sent inside the block, normalised: {sql: [count, seconds]}."""
    global _profile
    collected: dict[str, list[float]] = {}
    with _lock:
        _profile = collected
    try:
        yield collected
    finally:
        with _lock:
            _profile = None


def _after_fork() -> None:
    global _lock
    _lock = threading.Lock()
    _state.update(flushed=_state["count"], commits_flushed=_state["commits"], flusher_pid=None, redis=None)


def _client() -> Any:
    if _state["redis"] is None:
        import redis

        _state["redis"] = redis.Redis.from_url(os.environ["REDIS_URL"])
    return _state["redis"]


def flush() -> None:
    """Add this process's new queries to the Redis counter."""
    if not _redis_key:
        return
    with _lock:
        delta = _state["count"] - _state["flushed"]
        _state["flushed"] = _state["count"]
        commit_delta = _state["commits"] - _state["commits_flushed"]
        _state["commits_flushed"] = _state["commits"]
    if not delta and not commit_delta:
        return
    try:
        pipe = _client().pipeline()
        pipe.incrby(_redis_key, delta)
        pipe.incrby(f"{_redis_key}:commits", commit_delta)
        pipe.execute()
    except Exception:
        with _lock:
            _state["flushed"] -= delta
            _state["commits_flushed"] -= commit_delta
        raise


def _ensure_flusher() -> None:
    if not _redis_key or _state["flusher_pid"] == os.getpid():
        return
    _state["flusher_pid"] = os.getpid()

    def loop() -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            try:
                flush()
            except Exception:  # Redis hiccup: the next flush carries the delta
                time.sleep(0.5)

    threading.Thread(target=loop, name="bench-query-flusher", daemon=True).start()
