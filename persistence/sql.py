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
import datetime
import json
import math
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Field, Model


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


def _cursor(*, prepare: bool, db: Any = connection) -> Any:
    """Django's cursor wrapper, around a cursor that prepares its statements when asked."""
    if not prepare:
        return db.cursor()
    db.ensure_connection()
    db.validate_thread_sharing()
    raw: Any = _PreparingCursor(db.connection)
    return db.make_debug_cursor(raw) if db.queries_logged else db.make_cursor(raw)


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

    def __init__(self, *, commit_on_land: bool = False) -> None:
        # The connection's own wrapper: through Django's proxy, every attribute is a lookup of its own.
        self._db: Any = connections[DEFAULT_DB_ALIAS]
        self._commit_on_land = commit_on_land
        self._waiting: list[tuple[Any, Result]] = []
        self._pipeline: Any = None
        if self._db.vendor == "postgresql":
            self._db.ensure_connection()
            self._db.validate_thread_sharing()
            self._pipeline = self._db.connection.pipeline()
            self._pipeline.__enter__()

    def execute(self, sql: str, params: list[Any], *, prepare: bool = True) -> Result:
        result = Result()
        cursor = self._cursor(prepare)
        self._waiting.append((cursor, result))
        cursor.execute(sql, params)
        if self._pipeline is None:
            self._collect()
        return result

    def land(self) -> None:
        """Wait for the answers (leaving the pipeline sends the one sync of the flight)."""
        if self._commit_on_land:
            self._commit_on_land = False
            self.execute("COMMIT", [], prepare=False)
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

    def _cursor(self, prepare: bool) -> Any:
        """Django's cursor wrapper; on PostgreSQL around a cursor the server binds, prepared if asked
        (BEGIN and COMMIT cannot be)."""
        db = self._db
        if db.vendor != "postgresql":
            return db.cursor()
        raw = (_PreparingCursor if prepare else psycopg.Cursor)(db.connection)
        return db.make_debug_cursor(raw) if db.queries_logged else db.make_cursor(raw)

    def _collect(self, *, fetch: bool = True) -> None:
        waiting, self._waiting = self._waiting, []
        for wrapper, result in waiting:
            # Past Django's wrapper, which wraps every attribute read anew (statements went through it).
            cursor = wrapper.cursor
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
    """A transaction of its own, BEGIN and COMMIT in the flight of its statements: one round trip.

    Inside Django's `atomic()` psycopg sends BEGIN on its own and, on a
    pipeline, waits for it before the first statement, and COMMIT waits for
    the flight's answers: two round trips more per step. Here BEGIN is the
    flight's first statement and COMMIT its last, sent by `land()` (or at
    the end of the block), so the rows a statement returns cannot decide
    whether the transaction commits: a statement that must undo it raises an
    error in SQL instead (the guard of a step's finish, finishing.py), which
    rolls back everything. What runs after `land()` runs in autocommit.
    Django does not know of this transaction: nothing inside may use
    `atomic()` nor `on_commit()` (the caller sends what commits make ready
    after the block). An exception rolls it back. Within a Django
    transaction already (a test's), or on SQLite, it is an ordinary
    `atomic()` block, committed when the block ends.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        with transaction.atomic(), flight() as statements:
            yield statements
        return
    with connection.wrap_database_errors:
        statements = Flight(commit_on_land=True)
        try:
            statements.execute("BEGIN", [], prepare=False)
            yield statements
            statements.land()
        except BaseException:
            statements.abandon()
            if connection.connection is not None and not connection.connection.closed:
                with contextlib.suppress(psycopg.Error):
                    connection.connection.execute("ROLLBACK")
            raise


def insert_rows(model: type[Model], rows: Sequence[Mapping[str, Any]], *, using: str | None = None) -> None:
    """Insert `rows` (field name or attname to value, the same keys in every row), without `bulk_create`.

    `bulk_create` costs tens of microseconds a row: a model instance, every
    field's value prepared one call at a time and, on PostgreSQL, quoted into
    the statement's text on the client, which the server then parses. Here,
    on PostgreSQL the rows go as one JSON document, unpacked by the server
    (`jsonb_to_recordset`) in one statement whose text does not depend on
    the number of rows, so it is prepared once; on SQLite, in the process
    itself, as multi-row VALUES. A field the rows leave out takes its
    default: the primary key a new one per row, any other field one value
    for the whole insert (a callable default is called once, an
    `auto_now_add` time is the insert's). Nothing is returned and no signal
    is sent, as with `bulk_create`.
    """
    if not rows:
        return
    db = connections[using or DEFAULT_DB_ALIAS]
    meta = model._meta
    given = [_concrete(model, name) for name in rows[0]]
    pk = meta.pk
    assert pk is not None
    new_pk = pk not in given and pk.has_default()
    template = model()
    left_out = [field for field in meta.concrete_fields if field not in given and field is not pk]
    constants = [field.get_db_prep_save(field.pre_save(template, add=True), db) for field in left_out]
    columns = [*([pk] if new_pk else []), *given]
    values = [[*([pk.get_default()] if new_pk else []), *row.values()] for row in rows]
    if db.vendor == "postgresql":
        _insert_as_json(db, meta.db_table, columns, values, left_out, constants)
    else:
        _insert_as_values(db, meta.db_table, columns, values, left_out, constants)


def _concrete(model: type[Model], name: str) -> Field[Any, Any]:
    field = model._meta.get_field(name)
    if not isinstance(field, Field) or not field.concrete:
        raise ValueError(f"{model.__name__}.{name} is not a column")
    return field


def _insert_as_json(
    db: Any,
    table: str,
    columns: list[Field[Any, Any]],
    values: list[list[Any]],
    left_out: list[Field[Any, Any]],
    constants: list[Any],
) -> None:
    quote = db.ops.quote_name
    names = [quote(field.column) for field in [*columns, *left_out]]
    record = ", ".join(f"{quote(field.column)} {field.db_type(db)}" for field in columns)
    selected = [f"r.{quote(field.column)}" for field in columns]
    selected += [f"%s::{field.db_type(db)}" for field in left_out]
    sql = (
        f"INSERT INTO {quote(table)} ({', '.join(names)}) SELECT {', '.join(selected)}"
        f" FROM jsonb_to_recordset(%s::jsonb) AS r({record})"
    )
    keys = [field.column for field in columns]
    floats = [index for index, field in enumerate(columns) if field.get_internal_type() == "FloatField"]
    for row in values:
        for index in floats:
            if isinstance(row[index], float) and not math.isfinite(row[index]):
                row[index] = _NON_FINITE[str(row[index])]  # JSON has no such numbers; PostgreSQL reads these
    document = json.dumps([dict(zip(keys, row, strict=True)) for row in values], default=_json_default)
    with _cursor(prepare=True, db=db) as cursor:
        cursor.execute(sql, [*constants, document])


_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _json_default(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot be stored by insert_rows")


def _insert_as_values(
    db: Any,
    table: str,
    columns: list[Field[Any, Any]],
    values: list[list[Any]],
    left_out: list[Field[Any, Any]],
    constants: list[Any],
) -> None:
    quote = db.ops.quote_name
    names = ", ".join(quote(field.column) for field in [*columns, *left_out])
    row_sql = "(" + ", ".join(["%s"] * (len(columns) + len(left_out))) + ")"
    prepare = [partial(field.get_db_prep_save, connection=db) for field in columns]
    per_statement = max(1, (db.features.max_query_params or 999) // (len(columns) + len(left_out)))
    for start in range(0, len(values), per_statement):
        chunk = values[start : start + per_statement]
        params: list[Any] = []
        for row in chunk:
            params += [convert(value) for convert, value in zip(prepare, row, strict=True)]
            params += constants
        with db.cursor() as cursor:
            cursor.execute(f"INSERT INTO {quote(table)} ({names}) VALUES " + ", ".join([row_sql] * len(chunk)), params)
