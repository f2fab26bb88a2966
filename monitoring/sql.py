"""SQL expressions the dashboard's reads share, for PostgreSQL and SQLite alike."""

from __future__ import annotations

from typing import Any

from django.db.models import BigIntegerField
from django.db.models.expressions import Func


class EpochSlot(Func):
    """Epoch seconds of the start of the `seconds`-long slot holding a time, computed by the database.

    An integer, not a truncated datetime: turning thousands of those into
    aware datetimes and back to epoch seconds cost more than the query.
    """

    output_field = BigIntegerField()

    def __init__(self, expression: str, seconds: int) -> None:
        super().__init__(expression)
        self.seconds = int(seconds)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = f"(FLOOR(EXTRACT(EPOCH FROM %(expressions)s) / {self.seconds}) * {self.seconds})::bigint"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # Django keeps SQLite datetimes as UTC text; unixepoch() reads them (SQLite 3.38+).
        template = f"(unixepoch(%(expressions)s) / {self.seconds} * {self.seconds})"
        return self.as_sql(compiler, connection, template=template, **extra)
