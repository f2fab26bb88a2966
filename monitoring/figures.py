"""The dashboard's figures of some runs, read from the raw rows, in a form that adds up.

`Figures` holds what every panel needs, summed over any set of runs: runs by
(time, status), per tool the finished/failed/cached counts, tokens, longest
step and every timed duration (so percentiles stay exact, nearest-rank, a
value that was measured), failed steps by (tool, error head), tokens by
(completion time, agent) and rate-limit throttles by time. Times are epoch
seconds truncated to a grain (an hour, or a minute for the last-hour view),
so figures of different hours add up and a chart bucket is found from them
exactly (buckets are whole hours or days, aligned in UTC).

`collect` reads one time window of the raw rows; the rollup job stores its
result per workspace and hour (monitoring/rollups.py), and the dashboard
reads the parts of a range that are not rolled up (the current hour, the
range's first partial hour) the same way, so both sides count alike.
"""

from __future__ import annotations

import base64
import json
import math
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import Left

from monitoring.models import Log
from monitoring.sql import EpochSlot
from orchestration.models import FINISHED_STATUSES, Execution, ExecutionStep, StepStatus

THROTTLE_SOURCE = "orchestration.engine.gates"
THROTTLE_TEXT = "waits for rate limit"
ERROR_HEAD = 160
HOUR = 3600
GRAINS = {"hour": HOUR, "minute": 60}
SETTLED_STEPS = frozenset({StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.SKIPPED})
COUNTED_STEPS = (StepStatus.SUCCEEDED, StepStatus.FAILED)


def floor_to(moment: datetime, seconds: int) -> int:
    """Epoch seconds of the start of the `seconds`-long slot holding `moment` (UTC-aligned)."""
    return math.floor(moment.timestamp() / seconds) * seconds


@dataclass
class ToolFigures:
    finished: int = 0
    failed: int = 0
    cached: int = 0
    tokens: int = 0
    longest: int | None = None
    durations: list[int] = field(default_factory=list)  # succeeded, uncached steps; any order
    # More of them, as packed little-endian uint32 (read from rollups: decoding them as JSON lists of
    # numbers, then sorting those in Python, was most of the 30-day view).
    packed: list[bytes] = field(default_factory=list)

    def add(self, other: ToolFigures) -> None:
        self.finished += other.finished
        self.failed += other.failed
        self.cached += other.cached
        self.tokens += other.tokens
        if other.longest is not None and (self.longest is None or other.longest > self.longest):
            self.longest = other.longest
        self.durations.extend(other.durations)
        self.packed.extend(other.packed)

    def all_durations(self) -> np.ndarray[Any, np.dtype[np.uint32]]:
        """Every duration (of both kinds) as one unsorted array."""
        listed = np.array(self.durations, dtype=DURATION_TYPE)
        if not self.packed:
            return listed
        return np.concatenate((np.frombuffer(b"".join(self.packed), dtype=DURATION_TYPE), listed))

    def percentiles(self, *fractions: float) -> list[int] | None:
        """Nearest-rank percentiles of the durations (exact: always a duration that was measured); None if none."""
        values = self.all_durations()
        if not values.size:
            return None
        ranks = [max(1, math.ceil(fraction * values.size)) - 1 for fraction in fractions]
        # A partial sort around the ranks: the same values `sorted(...)[rank]` gives, without sorting it all.
        chosen = np.partition(values, ranks)
        return [int(chosen[rank]) for rank in ranks]


# Durations are whole milliseconds (`ExecutionStep.duration_ms`, a positive integer).
DURATION_TYPE = np.dtype("<u4")


def pack_durations(durations: Iterable[int]) -> str:
    """Durations as base64 of sorted little-endian uint32: a seventh of the time to decode of a JSON list."""
    values = np.sort(np.array(list(durations), dtype=DURATION_TYPE))
    return base64.b64encode(values.tobytes()).decode("ascii")


@dataclass
class Figures:
    runs: Counter[tuple[int, str]] = field(default_factory=Counter)
    tools: dict[str, ToolFigures] = field(default_factory=dict)
    errors: Counter[tuple[str, str]] = field(default_factory=Counter)
    tokens: Counter[tuple[int, str]] = field(default_factory=Counter)
    throttles: Counter[int] = field(default_factory=Counter)

    def add(self, other: Figures) -> None:
        self.runs.update(other.runs)
        for tool, figures in other.tools.items():
            self.tools.setdefault(tool, ToolFigures()).add(figures)
        self.errors.update(other.errors)
        self.tokens.update(other.tokens)
        self.throttles.update(other.throttles)

    def count_step(
        self, tool: str, status: str, cached: bool, duration: int | None, tokens: int, error_head: str | None
    ) -> bool:
        """Add one finished step to its tool's figures; False for a failed step (its tokens count by time only
        when it did its work)."""
        stats = self.tools.get(tool)
        if stats is None:
            stats = self.tools[tool] = ToolFigures()
        stats.finished += 1
        stats.tokens += tokens
        if status == StepStatus.FAILED:
            stats.failed += 1
            self.errors[(tool, error_head or "")] += 1
            return False
        if cached:
            stats.cached += 1
        elif duration is not None:
            stats.durations.append(duration)
            stats.longest = duration if stats.longest is None else max(stats.longest, duration)
        return True

    def is_empty(self) -> bool:
        return not (self.runs or self.tools or self.throttles)

    def to_json(self) -> dict[str, Any]:
        return {
            "runs": [[at, status, n] for (at, status), n in sorted(self.runs.items())],
            "tools": {
                tool: [t.finished, t.failed, t.cached, t.tokens, t.longest, pack_durations(t.all_durations())]
                for tool, t in sorted(self.tools.items())
            },
            "errors": [[tool, head, n] for (tool, head), n in sorted(self.errors.items())],
            "tokens": [[at, agent, n] for (at, agent), n in sorted(self.tokens.items())],
            "throttles": [[at, n] for at, n in sorted(self.throttles.items())],
        }

    def add_json(self, data: dict[str, Any]) -> None:
        """Add figures stored with `to_json` (straight into these: the dashboard adds hundreds of them)."""
        runs, errors, tokens, throttles = self.runs, self.errors, self.tokens, self.throttles
        for at, status, n in data.get("runs", ()):
            runs[(at, status)] += n
        for tool, (finished, failed, cached, used, longest, durations) in data.get("tools", {}).items():
            stats = self.tools.get(tool)
            if stats is None:
                stats = self.tools[tool] = ToolFigures()
            stats.finished += finished
            stats.failed += failed
            stats.cached += cached
            stats.tokens += used
            if longest is not None and (stats.longest is None or longest > stats.longest):
                stats.longest = longest
            if isinstance(durations, str):
                if durations:
                    stats.packed.append(base64.b64decode(durations))
            else:  # rolled up before durations were packed
                stats.durations.extend(durations)
        for tool, head, n in data.get("errors", ()):
            errors[(tool, head)] += n
        for at, agent, n in data.get("tokens", ()):
            tokens[(at, agent)] += n
        for at, n in data.get("throttles", ()):
            throttles[at] += n

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Figures:
        figures = cls()
        figures.add_json(data)
        return figures


Cell = tuple[uuid.UUID, int]  # (workspace id, epoch seconds of the hour)


@dataclass
class Collected:
    """Figures per workspace and hour, and (when settling) the runs left out because they had not settled."""

    cells: dict[Cell, Figures] = field(default_factory=dict)
    pending: dict[Cell, list[str]] = field(default_factory=dict)
    seen: dict[uuid.UUID, datetime] = field(default_factory=dict)  # when settling: each counted run's updated_at
    into: Figures | None = None  # everything added to these figures, not kept per cell (the dashboard's reads)

    def cell(self, key: Cell) -> Figures:
        if self.into is not None:
            return self.into
        found = self.cells.get(key)
        if found is None:
            found = self.cells[key] = Figures()
        return found

    def merged(self) -> Figures:
        if self.into is not None:
            return self.into
        total = Figures()
        for figures in self.cells.values():
            total.add(figures)
        return total


def collect(
    workspace_ids: Iterable[uuid.UUID] | None,
    start: datetime,
    end: datetime | None,
    *,
    grain: str = "hour",
    settle: bool = False,
    into: Figures | None = None,
) -> Collected:
    """Figures of the runs created in [start, end) and the throttles logged then (no end: up to now).

    `workspace_ids` None means every workspace. With `settle`, runs that are
    not finished, or have a step not finished, are left out and listed in
    `pending` (the rollup job reads them again later). With `into`, every
    figure is added to it instead of being kept per workspace and hour.
    """
    runs = Execution.objects.filter(created_at__gte=start)
    logs = Log.objects.filter(timestamp__gte=start, source=THROTTLE_SOURCE, message__contains=THROTTLE_TEXT)
    if end is not None:
        runs, logs = runs.filter(created_at__lt=end), logs.filter(timestamp__lt=end)
    if workspace_ids is not None:
        ids = list(workspace_ids)
        runs = runs.filter(workspace_id__in=ids)
    collected = Collected(into=into)
    if into is not None and not settle:
        _read_into(into, runs, ExecutionStep.objects.filter(execution__in=runs.order_by().values("pk")), grain)
    else:
        _runs_and_steps(collected, runs, grain, settle)
    _throttles(collected, logs, grain, None if workspace_ids is None else ids)
    return collected


def read_rows(
    into: Figures,
    workspace_ids: list[uuid.UUID],
    windows: list[tuple[datetime, datetime | None]],
    run_ids: Iterable[str | uuid.UUID] = (),
    *,
    grain: str = "hour",
) -> None:
    """Add the figures of the runs created in these windows [start, end) (no end: up to now) and of
    these runs wherever they were created, and of the throttles logged in the windows (the dashboard).

    The windows and the runs must not overlap: nothing is counted twice only because they do not.
    """
    created, logged = Q(), Q()
    for start, end in windows:
        created |= Q(created_at__gte=start, **({"created_at__lt": end} if end is not None else {}))
        logged |= Q(timestamp__gte=start, **({"timestamp__lt": end} if end is not None else {}))
    runs = Execution.objects.filter(created, workspace_id__in=workspace_ids)
    _read_into(into, runs, ExecutionStep.objects.filter(execution__in=runs.order_by().values("pk")), grain)
    logs = Log.objects.filter(logged, source=THROTTLE_SOURCE, message__contains=THROTTLE_TEXT)
    _throttles(Collected(into=into), logs, grain, workspace_ids)
    ids = [uuid.UUID(str(pk)) for pk in run_ids]
    if ids:
        # Apart from the windows: or-ed with them, PostgreSQL scans every run instead of two indexes.
        among = _among(ids)
        _read_into(
            into, Execution.objects.filter(pk__in=among), ExecutionStep.objects.filter(execution_id__in=among), grain
        )


def _among(ids: list[uuid.UUID]) -> RawSQL:
    """The ids as one array parameter: a thousand `%s` cost far more to bind than the query takes."""
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::uuid[])", (ids,))
    return RawSQL("SELECT value FROM json_each(%s)", (json.dumps([pk.hex for pk in ids]),))


def _read_into(into: Figures, runs: QuerySet[Execution], steps: QuerySet[ExecutionStep], grain: str) -> None:
    """The dashboard's reads: aggregates, and plain columns of the counted steps.

    No ids or timestamps per row (times come as epoch-second integers): loading those costs several times the
    query (the dashboard's raw reads must stay cheap).
    """
    size = GRAINS[grain]
    per_time = runs.annotate(at=EpochSlot("created_at", size)).order_by().values_list("at", "status")
    for at, status, n in per_time.annotate(n=Count("pk")):
        into.runs[(at, status)] += n
    # Tokens by (time used, agent) from the same rows: a second, grouped query cost more than these columns.
    counted = steps.filter(status__in=COUNTED_STEPS).order_by()
    rows = counted.annotate(head=Left("error", ERROR_HEAD), done=EpochSlot("completed_at", size)).values_list(
        "tool", "status", "cached", "duration_ms", "tokens_used", "head", "agent_id", "done"
    )
    for tool, status, cached, duration, tokens, head, agent, done in rows:
        if into.count_step(tool, status, cached, duration, tokens, head) and done is not None and tokens > 0:
            into.tokens[(done, agent)] += tokens


def _runs_and_steps(collected: Collected, runs: QuerySet[Execution], grain: str, settle: bool) -> None:
    """Figures per workspace and hour, run by run (the rollup job: it must know which runs settled)."""
    size = GRAINS[grain]
    # updated_at only when settling: the rollup job checks afterwards what changed while it read.
    fields = ["pk", "workspace_id", "created_at", "status", "updated_at" if settle else "created_at"]
    found = list(runs.order_by().values_list(*fields))
    cell_of = {pk: (workspace_id, floor_to(created_at, HOUR)) for pk, workspace_id, created_at, _, _ in found}
    steps = ExecutionStep.objects.filter(execution__in=runs.order_by().values("pk")).order_by()
    if not settle:
        steps = steps.filter(status__in=COUNTED_STEPS)
    rows = list(
        steps.annotate(head=Left("error", ERROR_HEAD)).values_list(
            "execution_id", "tool", "agent_id", "status", "cached", "duration_ms", "tokens_used", "completed_at", "head"
        )
    )
    unsettled: set[uuid.UUID] = set()
    if settle:
        unsettled = {pk for pk, _, _, status, _ in found if status not in FINISHED_STATUSES}
        unsettled |= {row[0] for row in rows if row[3] not in SETTLED_STEPS}
    for pk, _, created_at, status, updated_at in found:
        if pk in unsettled:
            # Read from its rows until it settles (and its hour is rolled up again).
            collected.pending.setdefault(cell_of[pk], []).append(pk.hex)
            continue
        collected.cell(cell_of[pk]).runs[(floor_to(created_at, size), status)] += 1
        if settle:
            collected.seen[pk] = updated_at
    for execution_id, tool, agent, status, cached, duration, tokens, completed_at, head in rows:
        if execution_id in unsettled or status not in COUNTED_STEPS:
            continue
        figures = collected.cell(cell_of[execution_id])
        counted = figures.count_step(tool, status, cached, duration, tokens, head)
        if counted and completed_at is not None and tokens > 0:
            figures.tokens[(floor_to(completed_at, size), agent)] += tokens


def _throttles(collected: Collected, logs: QuerySet[Log], grain: str, workspace_ids: list[uuid.UUID] | None) -> None:
    # Lines by (source, time) first, their runs' workspaces after: joined in one query, SQLite
    # walks the workspace's runs and their logs instead of the (source, timestamp) index.
    size = GRAINS[grain]
    rows = list(
        logs.filter(execution__isnull=False)
        .annotate(at=EpochSlot("timestamp", size))
        .order_by()
        .values_list("execution_id", "at")
        .annotate(n=Count("pk"))
    )
    if not rows:
        return
    runs = Execution.objects.filter(pk__in=_among(list({execution_id for execution_id, _, _ in rows})))
    if workspace_ids is not None:
        runs = runs.filter(workspace_id__in=workspace_ids)
    workspace_of = dict(runs.values_list("pk", "workspace_id"))
    for execution_id, at, n in rows:
        workspace_id = workspace_of.get(execution_id)
        if workspace_id is not None:
            collected.cell((workspace_id, at // HOUR * HOUR)).throttles[at] += n


def hour_start(moment: datetime) -> datetime:
    return datetime.fromtimestamp(floor_to(moment, HOUR), tz=UTC)


def next_hour(moment: datetime) -> datetime:
    """The start of the first whole hour at or after `moment`."""
    start = hour_start(moment)
    return start if start == moment else start + timedelta(hours=1)
