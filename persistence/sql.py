"""Raw SQL the engine runs on every step: parameters PostgreSQL can read, statements it plans once.

Django binds parameters on the client, so to the server every statement is
new text, parsed and planned again; the claim alone spent more time being
planned than being run. The engine's per-step statements go through
`prepared_cursor()` instead: server-side binding, each statement prepared
(psycopg keeps them per connection), so a worker's persistent connection
plans each of them once. It is still Django's cursor wrapper, so query
logging, `CaptureQueriesContext` and execute wrappers see these statements.

Django leaves psycopg's automatic preparing off for the sake of connection
poolers; a pooler in front of PostgreSQL must keep prepared statements per
client (PgBouncer 1.21 and later: `max_prepared_statements`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db import connection, transaction


class _PreparingCursor(psycopg.Cursor[Any]):
    """Server-side binding, every statement prepared (see the module's docstring)."""

    def execute(
        self, query: Any, params: Any = None, *, prepare: bool | None = None, binary: bool | None = None
    ) -> Any:
        return super().execute(query, params, prepare=True, binary=binary)


def json_param() -> str:
    """A JSON parameter in raw SQL: PostgreSQL must be told the text is jsonb."""
    return "%s::jsonb" if connection.vendor == "postgresql" else "%s"


@contextmanager
def prepared_cursor() -> Iterator[Any]:
    """A cursor whose statements PostgreSQL prepares; on SQLite, the ordinary cursor."""
    with _cursor(prepare=connection.vendor == "postgresql") as cursor:
        yield cursor


def _cursor(*, prepare: bool) -> Any:
    """Django's cursor wrapper, around a cursor that prepares its statements when asked."""
    if not prepare:
        return connection.cursor()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    raw: Any = _PreparingCursor(connection.connection)
    return connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw)


class Result:
    """The rows one statement of a flight returned, there once the flight landed."""

    rows: list[tuple[Any, ...]]

    def __init__(self) -> None:
        self.rows = []


class Flight:
    """Statements sent one after the other without waiting for each answer.

    On PostgreSQL they go in pipeline mode until `land()`: the whole flight
    costs one round trip to the server instead of one per statement, which
    on a step's finish was most of its time. Parameters must not depend on
    an earlier statement's answer (a later statement may read what an
    earlier one wrote: they run in order, in one transaction). After
    `land()` each Result has its rows, and statements run one at a time. On
    SQLite, in the process itself, each statement simply runs at once.
    """

    def __init__(self) -> None:
        self._waiting: list[tuple[Any, Result]] = []
        self._pipeline: Any = None
        if connection.vendor == "postgresql":
            connection.ensure_connection()
            self._pipeline = connection.connection.pipeline()
            self._pipeline.__enter__()

    def execute(self, sql: str, params: list[Any], *, prepare: bool = True) -> Result:
        result = Result()
        cursor = _cursor(prepare=prepare and connection.vendor == "postgresql")
        self._waiting.append((cursor, result))
        cursor.execute(sql, params)
        if self._pipeline is None:
            self._collect()
        return result

    def land(self) -> None:
        """Wait for the answers (leaving the pipeline sends the one sync of the flight)."""
        self._leave_pipeline()
        self._collect()

    def abandon(self) -> None:
        """Drop what is still waiting (the caller raised): the pipeline is left, the cursors closed."""
        try:
            # What the pipeline still owes is an error at most, and the caller's own goes on up.
            with contextlib.suppress(psycopg.Error):
                self._leave_pipeline()
        finally:
            self._collect(fetch=False)

    def _leave_pipeline(self) -> None:
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None:
            pipeline.__exit__(None, None, None)

    def _collect(self, *, fetch: bool = True) -> None:
        waiting, self._waiting = self._waiting, []
        for cursor, result in waiting:
            try:
                if fetch and cursor.description is not None:
                    result.rows = cursor.fetchall()
            finally:
                cursor.close()


@contextmanager
def flight() -> Iterator[Flight]:
    """A `Flight` in the caller's transaction, landed at the end of the block."""
    # Errors surface when the pipeline syncs, outside any Django cursor: wrapped as Django's own.
    with connection.wrap_database_errors:
        statements = Flight()
        try:
            yield statements
            statements.land()
        finally:
            statements.abandon()


@contextmanager
def transaction_flight() -> Iterator[Flight]:
    """A transaction of its own whose first statements fly with its BEGIN; COMMIT when the block ends.

    Inside Django's `atomic()` psycopg sends BEGIN on its own and, on a
    pipeline, waits for it before the first statement: one round trip more
    per step. Here BEGIN is the flight's first statement, so a step's finish
    is two round trips (the flight, the COMMIT). Django does not know of this
    transaction: nothing inside may use `atomic()` nor `on_commit()` (the
    caller sends what commits make ready after the block). An exception rolls
    it back. Within a Django transaction already (a test's), or on SQLite, it
    is an ordinary `atomic()` block.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        with transaction.atomic(), flight() as statements:
            yield statements
        return
    with connection.wrap_database_errors:
        statements = Flight()
        try:
            statements.execute("BEGIN", [], prepare=False)
            yield statements
            statements.land()
            statements.execute("COMMIT", [], prepare=False)
        except BaseException:
            statements.abandon()
            if connection.connection is not None and not connection.connection.closed:
                with contextlib.suppress(psycopg.Error):
                    connection.connection.execute("ROLLBACK")
            raise
