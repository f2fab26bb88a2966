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
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield cursor
        return
    connection.ensure_connection()
    connection.validate_thread_sharing()
    raw: Any = _PreparingCursor(connection.connection)
    wrapped = connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw)
    with wrapped as cursor:
        yield cursor
