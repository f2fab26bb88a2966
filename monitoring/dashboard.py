"""The monitoring dashboard's figures, read for a set of workspaces and a time range.

Every figure comes from the tenant-owned tables (runs, steps, approvals, run
logs), filtered to the workspaces the caller passes (the view passes only
the user's), so a user sees the figures of their own workspaces and no
others. The `metrics` table has no workspace, so it feeds Prometheus and
not this page. "In the range" means runs created in it (and their steps),
approvals decided in it and throttles logged in it.

Each panel is one aggregate query whatever the number of rows: the page
costs the same number of queries for ten runs or a million
(bench/monitoring_dashboard.py). Percentiles are computed by PostgreSQL
(`percentile_disc`, a value that was measured, as `metrics.percentile`); on
SQLite, the embedded default's small data is sorted in Python instead.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import (
    Aggregate,
    Avg,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Max,
    Min,
    Q,
    Sum,
)
from django.db.models.functions import Left, Trunc
from django.utils import timezone

from monitoring.metrics import percentile
from monitoring.models import Log
from orchestration.models import Execution, ExecutionStatus, ExecutionStep, StepStatus
from safety.models import ApprovalStatus, PendingApproval


@dataclass(frozen=True)
class TimeRange:
    key: str
    label: str
    span: timedelta
    trunc: str  # what the database truncates to
    bucket: timedelta  # what the chart shows per bar
    bucket_label: str


RANGES: dict[str, TimeRange] = {
    r.key: r
    for r in (
        TimeRange("1h", "Last hour", timedelta(hours=1), "minute", timedelta(minutes=5), "5 minutes"),
        TimeRange("24h", "Last 24 hours", timedelta(hours=24), "hour", timedelta(hours=1), "hour"),
        TimeRange("7d", "Last 7 days", timedelta(days=7), "day", timedelta(days=1), "day"),
        TimeRange("30d", "Last 30 days", timedelta(days=30), "day", timedelta(days=1), "day"),
    )
}
DEFAULT_RANGE = "24h"
IN_FLIGHT = [
    ExecutionStatus.PENDING,
    ExecutionStatus.PLANNING,
    ExecutionStatus.RUNNING,
    ExecutionStatus.WAITING_APPROVAL,
]
FINISHED = [ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED]
THROTTLE_SOURCE = "orchestration.engine.gates"
THROTTLE_TEXT = "waits for rate limit"
TOP_ERRORS = 5
ERROR_HEAD = 160


class Percentile(Aggregate):
    """PostgreSQL's percentile_disc: the smallest measured value at or above the fraction."""

    function = "PERCENTILE_DISC"
    name = "Percentile"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: str, fraction: float, **extra: Any) -> None:
        super().__init__(expression, fraction=float(fraction), **extra)


@dataclass
class ToolStats:
    tool: str
    finished: int = 0
    failed: int = 0
    cached: int = 0
    tokens: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    max_ms: float | None = None


@dataclass
class Dashboard:
    range: TimeRange
    since: datetime
    now: datetime
    buckets: list[datetime]
    runs: dict[datetime, dict[str, int]] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    in_flight: dict[str, int] = field(default_factory=dict)
    tools: list[ToolStats] = field(default_factory=list)
    top_errors: list[tuple[str, str, int]] = field(default_factory=list)
    tokens_by_bucket: dict[datetime, int] = field(default_factory=dict)
    tokens_by_agent: dict[str, int] = field(default_factory=dict)
    approvals_waiting: int = 0
    oldest_waiting_seconds: float | None = None
    approvals_decided: int = 0
    average_decision_seconds: float | None = None
    throttles: dict[datetime, int] = field(default_factory=dict)

    @property
    def finished_runs(self) -> int:
        return sum(self.totals.get(status, 0) for status in FINISHED)

    @property
    def success_rate(self) -> float | None:
        return self.totals.get(ExecutionStatus.SUCCEEDED, 0) / self.finished_runs if self.finished_runs else None

    @property
    def error_rate(self) -> float | None:
        return self.totals.get(ExecutionStatus.FAILED, 0) / self.finished_runs if self.finished_runs else None

    @property
    def cache_hit_ratio(self) -> float | None:
        succeeded = sum(t.finished - t.failed for t in self.tools)
        return sum(t.cached for t in self.tools) / succeeded if succeeded else None

    @property
    def throttle_count(self) -> int:
        return sum(self.throttles.values())


def bucket_of(moment: datetime, size: timedelta) -> datetime:
    """The start of the chart bucket holding `moment` (buckets are aligned to the epoch, in UTC)."""
    seconds = size.total_seconds()
    return datetime.fromtimestamp(math.floor(moment.timestamp() / seconds) * seconds, tz=UTC)


def build(workspace_ids: Iterable[uuid.UUID], range_key: str = DEFAULT_RANGE, now: datetime | None = None) -> Dashboard:
    """Every panel's figures for runs of these workspaces in the range."""
    chosen = RANGES.get(range_key, RANGES[DEFAULT_RANGE])
    now = now or timezone.now()
    since = now - chosen.span
    first = bucket_of(since, chosen.bucket)
    count = math.floor((now - first) / chosen.bucket) + 1
    board = Dashboard(range=chosen, since=since, now=now, buckets=[first + chosen.bucket * i for i in range(count)])
    ids = list(workspace_ids)
    if not ids:
        return board
    runs = Execution.objects.filter(workspace_id__in=ids, created_at__gte=since)
    steps = ExecutionStep.objects.filter(execution__workspace_id__in=ids, execution__created_at__gte=since)
    _runs_over_time(board, runs)
    _in_flight(board, ids)
    _tools(board, steps)
    _errors(board, steps)
    _tokens(board, steps)
    _approvals(board, ids)
    _throttles(board, ids)
    return board


def _trunc(field_name: str, board: Dashboard) -> Trunc:
    return Trunc(field_name, board.range.trunc, tzinfo=UTC)


def _runs_over_time(board: Dashboard, runs: Any) -> None:
    per_bucket: dict[datetime, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    totals: dict[str, int] = defaultdict(int)
    rows = runs.annotate(at=_trunc("created_at", board)).order_by().values_list("at", "status").annotate(n=Count("pk"))
    for at, status, n in rows:
        per_bucket[bucket_of(at, board.range.bucket)][status] += n
        totals[status] += n
    board.runs = {bucket: dict(per_bucket.get(bucket, {})) for bucket in board.buckets}
    board.totals = dict(totals)


def _in_flight(board: Dashboard, ids: list[uuid.UUID]) -> None:
    rows = (
        Execution.objects.filter(workspace_id__in=ids, status__in=IN_FLIGHT)
        .order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
    )
    board.in_flight = {status: n for status, n in rows}


def _tools(board: Dashboard, steps: Any) -> None:
    timed = Q(status=StepStatus.SUCCEEDED, cached=False)
    # Aliases differ from field names: an annotation named like a field would shadow it in the filters.
    aggregates: dict[str, Any] = {
        "n_finished": Count("pk"),
        "n_failed": Count("pk", filter=Q(status=StepStatus.FAILED)),
        "n_cached": Count("pk", filter=Q(cached=True, status=StepStatus.SUCCEEDED)),
        "n_tokens": Sum("tokens_used"),
        "longest": Max("duration_ms", filter=timed),
    }
    postgres = connection.vendor == "postgresql"
    if postgres:
        aggregates["median"] = Percentile("duration_ms", 0.5, filter=timed)
        aggregates["p95"] = Percentile("duration_ms", 0.95, filter=timed)
    finished = steps.filter(status__in=[StepStatus.SUCCEEDED, StepStatus.FAILED]).order_by()
    stats: dict[str, ToolStats] = {}
    for row in finished.values("tool").annotate(**aggregates):
        stats[row["tool"]] = ToolStats(
            tool=row["tool"],
            finished=row["n_finished"],
            failed=row["n_failed"],
            cached=row["n_cached"],
            tokens=int(row["n_tokens"] or 0),
            p50_ms=row.get("median"),
            p95_ms=row.get("p95"),
            max_ms=row["longest"],
        )
    if not postgres:
        durations: dict[str, list[float]] = defaultdict(list)
        for tool, duration in finished.filter(timed, duration_ms__isnull=False).values_list("tool", "duration_ms"):
            durations[tool].append(float(duration))
        for tool, values in durations.items():
            values.sort()
            stats[tool].p50_ms, stats[tool].p95_ms = percentile(values, 0.5), percentile(values, 0.95)
    board.tools = sorted(stats.values(), key=lambda t: (-(t.p95_ms or 0), t.tool))


def _errors(board: Dashboard, steps: Any) -> None:
    rows = (
        steps.filter(status=StepStatus.FAILED)
        .annotate(head=Left("error", ERROR_HEAD))
        .order_by()
        .values_list("tool", "head")
        .annotate(n=Count("pk"))
        .order_by("-n", "tool", "head")[:TOP_ERRORS]
    )
    board.top_errors = [(tool, head or "(no message)", n) for tool, head, n in rows]


def _tokens(board: Dashboard, steps: Any) -> None:
    rows = (
        steps.filter(status=StepStatus.SUCCEEDED, completed_at__isnull=False, tokens_used__gt=0)
        .annotate(at=_trunc("completed_at", board))
        .order_by()
        .values_list("at", "agent_id")
        .annotate(tokens=Sum("tokens_used"))
    )
    per_bucket: dict[datetime, int] = defaultdict(int)
    per_agent: dict[str, int] = defaultdict(int)
    for at, agent, tokens in rows:
        per_bucket[bucket_of(at, board.range.bucket)] += tokens
        per_agent[agent] += tokens
    board.tokens_by_bucket = {bucket: per_bucket.get(bucket, 0) for bucket in board.buckets}
    board.tokens_by_agent = dict(sorted(per_agent.items(), key=lambda item: (-item[1], item[0])))


def _approvals(board: Dashboard, ids: list[uuid.UUID]) -> None:
    pending = Q(status=ApprovalStatus.PENDING)
    decided = Q(resolved_at__gte=board.since)
    waited = ExpressionWrapper(F("resolved_at") - F("created_at"), output_field=DurationField())
    figures = PendingApproval.objects.filter(execution__workspace_id__in=ids).aggregate(
        waiting=Count("pk", filter=pending),
        oldest=Min("created_at", filter=pending),
        decided=Count("pk", filter=decided),
        average=Avg(waited, filter=decided),
    )
    board.approvals_waiting = figures["waiting"]
    board.oldest_waiting_seconds = (board.now - figures["oldest"]).total_seconds() if figures["oldest"] else None
    board.approvals_decided = figures["decided"]
    average = figures["average"]
    board.average_decision_seconds = average.total_seconds() if isinstance(average, timedelta) else None


def _throttles(board: Dashboard, ids: list[uuid.UUID]) -> None:
    rows = (
        Log.objects.filter(
            execution__workspace_id__in=ids,
            timestamp__gte=board.since,
            source=THROTTLE_SOURCE,
            message__contains=THROTTLE_TEXT,
        )
        .annotate(at=_trunc("timestamp", board))
        .order_by()
        .values_list("at")
        .annotate(n=Count("pk"))
    )
    per_bucket: dict[datetime, int] = defaultdict(int)
    for at, n in rows:
        per_bucket[bucket_of(at, board.range.bucket)] += n
    board.throttles = {bucket: per_bucket.get(bucket, 0) for bucket in board.buckets}
