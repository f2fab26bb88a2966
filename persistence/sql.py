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

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db import connection


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

    On PostgreSQL they go in pipeline mode: the whole flight costs one round
    trip to the server instead of one per statement, which on a step's finish
    was most of its time. Parameters must not depend on an earlier statement's
    answer (a later statement may read what an earlier one wrote: they run in
    order, in the caller's transaction). On SQLite, in the process itself,
    each statement simply runs at once.
    """

    def __init__(self) -> None:
        self._waiting: list[tuple[Any, Result]] = []

    def execute(self, sql: str, params: list[Any]) -> Result:
        result = Result()
        cursor = _cursor(prepare=connection.vendor == "postgresql")
        self._waiting.append((cursor, result))
        cursor.execute(sql, params)
        if connection.vendor != "postgresql":
            self._land()
        return result

    def _land(self, *, fetch: bool = True) -> None:
        waiting, self._waiting = self._waiting, []
        for cursor, result in waiting:
            try:
                if fetch and cursor.description is not None:
                    result.rows = cursor.fetchall()
            finally:
                cursor.close()


@contextmanager
def flight() -> Iterator[Flight]:
    """A `Flight`, landed at the end of the block: each Result's rows are there after it."""
    statements = Flight()
    if connection.vendor != "postgresql":
        yield statements
        return
    connection.ensure_connection()
    # Errors surface when the pipeline syncs, outside any Django cursor: wrapped as Django's own.
    with connection.wrap_database_errors, connection.connection.pipeline() as pipeline:
        try:
            yield statements
            pipeline.sync()
            statements._land()
        finally:
            statements._land(fetch=False)
