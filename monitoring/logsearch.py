"""The logs page's search: run logs of the user's workspaces, filtered, newest first.

Pages are keyset pages on the row id (`before`), and the live tail asks for
rows after the newest it has (`after`): one query per page whatever the
table's size, no COUNT and no OFFSET. Ids follow insertion, which is the
order the log handler writes its batches in; the time shown is the record's own.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from monitoring.models import Log, LogLevel

PAGE_SIZE = 50
TAIL_LIMIT = 200
LEVEL_ORDER = [LogLevel.DEBUG, LogLevel.INFO, LogLevel.WARNING, LogLevel.ERROR, LogLevel.CRITICAL]


@dataclass(frozen=True)
class LogFilters:
    workspace_id: uuid.UUID | None = None
    execution_id: uuid.UUID | None = None
    level: str = ""  # this level and above
    source: str = ""  # logger name, or a prefix of it
    text: str = ""
    since: datetime | None = None
    until: datetime | None = None


def levels_from(level: str) -> list[str]:
    names = [str(name) for name in LEVEL_ORDER]
    return names[names.index(level) :] if level in names else []


def logs_for(user: AbstractBaseUser | AnonymousUser, filters: LogFilters) -> QuerySet[Log]:
    """The user's visible log lines matching the filters (lines without a run belong to no workspace)."""
    rows = Log.objects.for_user(user).select_related("execution__workspace")
    if filters.workspace_id is not None:
        rows = rows.filter(execution__workspace_id=filters.workspace_id)
    if filters.execution_id is not None:
        rows = rows.filter(execution_id=filters.execution_id)
    if filters.level:
        rows = rows.filter(level__in=levels_from(filters.level))
    if filters.source:
        rows = rows.filter(source__startswith=filters.source)
    if filters.text:
        rows = rows.filter(message__icontains=filters.text)
    if filters.since is not None:
        rows = rows.filter(timestamp__gte=filters.since)
    if filters.until is not None:
        rows = rows.filter(timestamp__lt=filters.until)
    return rows


def page(
    user: AbstractBaseUser | AnonymousUser, filters: LogFilters, before: int | None = None, size: int = PAGE_SIZE
) -> tuple[list[Log], int | None]:
    """Up to `size` rows older than `before` (or the newest), and the cursor of the next page, if any."""
    rows = logs_for(user, filters)
    if before is not None:
        rows = rows.filter(pk__lt=before)
    found = list(rows.order_by("-pk")[: size + 1])
    more = len(found) > size
    found = found[:size]
    return found, (found[-1].pk if more and found else None)


def tail(user: AbstractBaseUser | AnonymousUser, filters: LogFilters, after: int) -> list[Log]:
    """Rows newer than `after`, newest first (at most TAIL_LIMIT: a burst skips to its newest lines)."""
    return list(logs_for(user, filters).filter(pk__gt=after).order_by("-pk")[:TAIL_LIMIT])


def newest_id() -> int:
    """Where a tail starts: the newest row id overall (a cheap index read), filters applied later."""
    return Log.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
