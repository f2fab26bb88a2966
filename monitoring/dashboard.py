"""The monitoring dashboard's figures, read for a set of workspaces and a time range.

Every figure comes from the tenant-owned tables (runs, steps, approvals, run
logs), filtered to the workspaces the caller passes (the view passes only
the user's), so a user sees the figures of their own workspaces and no
others. The `metrics` table has no workspace, so it feeds Prometheus and
not this page. "In the range" means runs created in it (and their steps),
approvals decided in it and throttles logged in it.

The figures of runs, steps and throttles come from hourly rollups for the
whole hours of the range and from the rows for the rest (monitoring/rollups.py):
the same numbers the rows give, at a cost that does not grow with the rows
(bench/monitoring_dashboard.py). Percentiles are nearest-rank
(`ToolFigures.percentiles`): always a duration that was measured. Runs in flight
and approvals are read from their tables (indexed counts).
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Min, Q
from django.utils import timezone

from monitoring import rollups
from monitoring.figures import Figures
from orchestration.models import Execution, ExecutionStatus
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
TOP_ERRORS = 5


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
    # Buckets of an hour or more add up from hourly rollups; the last hour's 5-minute buckets cannot.
    grain = "hour" if chosen.bucket >= timedelta(hours=1) else "minute"
    figures = rollups.figures_for_range(ids, since, grain)
    _runs_over_time(board, figures)
    _in_flight(board, ids)
    _tools(board, figures)
    _errors(board, figures)
    _tokens(board, figures)
    _approvals(board, ids)
    _throttles(board, figures)
    return board


class _Buckets:
    """The chart bucket of an epoch-seconds time, cached (a range has a few dozen distinct times)."""

    def __init__(self, size: timedelta) -> None:
        self.size = size
        self.seen: dict[int, datetime] = {}

    def __call__(self, stamp: int) -> datetime:
        found = self.seen.get(stamp)
        if found is None:
            found = self.seen[stamp] = bucket_of(datetime.fromtimestamp(stamp, tz=UTC), self.size)
        return found


def _runs_over_time(board: Dashboard, figures: Figures) -> None:
    per_bucket: dict[datetime, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    totals: dict[str, int] = defaultdict(int)
    bucket = _Buckets(board.range.bucket)
    for (at, status), n in figures.runs.items():
        per_bucket[bucket(at)][status] += n
        totals[status] += n
    board.runs = {b: dict(per_bucket.get(b, {})) for b in board.buckets}
    board.totals = dict(totals)


def _in_flight(board: Dashboard, ids: list[uuid.UUID]) -> None:
    rows = (
        Execution.objects.filter(workspace_id__in=ids, status__in=IN_FLIGHT)
        .order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
    )
    board.in_flight = {status: n for status, n in rows}


def _tools(board: Dashboard, figures: Figures) -> None:
    stats: dict[str, ToolStats] = {}
    for tool, found in figures.tools.items():
        p50, p95 = found.percentiles(0.5, 0.95) or (None, None)
        stats[tool] = ToolStats(
            tool=tool,
            finished=found.finished,
            failed=found.failed,
            cached=found.cached,
            tokens=found.tokens,
            p50_ms=None if p50 is None else float(p50),
            p95_ms=None if p95 is None else float(p95),
            max_ms=found.longest,
        )
    board.tools = sorted(stats.values(), key=lambda t: (-(t.p95_ms or 0), t.tool))


def _errors(board: Dashboard, figures: Figures) -> None:
    ranked = sorted(figures.errors.items(), key=lambda item: (-item[1], item[0][0], item[0][1]))[:TOP_ERRORS]
    board.top_errors = [(tool, head or "(no message)", n) for (tool, head), n in ranked]


def _tokens(board: Dashboard, figures: Figures) -> None:
    per_bucket: dict[datetime, int] = defaultdict(int)
    per_agent: dict[str, int] = defaultdict(int)
    bucket = _Buckets(board.range.bucket)
    for (at, agent), tokens in figures.tokens.items():
        per_bucket[bucket(at)] += tokens
        per_agent[agent] += tokens
    board.tokens_by_bucket = {b: per_bucket.get(b, 0) for b in board.buckets}
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


def _throttles(board: Dashboard, figures: Figures) -> None:
    per_bucket: dict[datetime, int] = defaultdict(int)
    bucket = _Buckets(board.range.bucket)
    for at, n in figures.throttles.items():
        per_bucket[bucket(at)] += n
    board.throttles = {b: per_bucket.get(b, 0) for b in board.buckets}
