"""Hourly rollups: the dashboard read from rollups says exactly what the raw rows say, whatever happens since."""

from __future__ import annotations

import base64
import json
import random
from collections import Counter, defaultdict
from datetime import timedelta

import numpy as np
import pytest
from django.db.models import F
from django.utils import timezone

from monitoring import batching, dashboard, rollups
from monitoring.dashboard import RANGES, bucket_of
from monitoring.metrics import percentile
from monitoring.models import Log, MetricRollup, RolledHour
from monitoring.retention import prune
from orchestration.engine.runs import cancel, resume_run
from orchestration.models import Execution, ExecutionStatus, ExecutionStep, StepStatus
from tests.factories.orchestration import ExecutionFactory, ExecutionStepFactory

TOOLS = ["drive.search", "analysis.describe", "llm.chat", "email.send"]
STATUSES = [ExecutionStatus.SUCCEEDED] * 6 + [
    ExecutionStatus.FAILED,
    ExecutionStatus.CANCELLED,
    ExecutionStatus.RUNNING,
    ExecutionStatus.WAITING_APPROVAL,
    ExecutionStatus.PLANNED,
]


def _generate(workspaces, runs=160, seed=7):
    """Runs over the last 31 days in several workspaces: every status, every kind of step, throttles."""
    rng = random.Random(seed)
    now = timezone.now()
    made = []
    for index in range(runs):
        workspace = workspaces[index % len(workspaces)]
        created = now - timedelta(seconds=rng.randint(0, 31 * 86400))
        status = rng.choice(STATUSES)
        execution = ExecutionFactory(workspace=workspace, status=status, total_steps=3)
        Execution.objects.filter(pk=execution.pk).update(created_at=created, updated_at=created)
        for number in (1, 2, 3):
            step_status = rng.choice(
                [StepStatus.SUCCEEDED] * 5
                + [StepStatus.FAILED, StepStatus.SKIPPED]
                + ([StepStatus.RUNNING] if status not in (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED) else [])
            )
            error = rng.choice(["", "timeout after 30 s", "x" * 200 + str(rng.randint(0, 1)), "file not found"])
            ExecutionStepFactory(
                execution=execution,
                step_number=number,
                tool=rng.choice(TOOLS),
                agent_id=rng.choice(["drive", "analysis", "writer"]),
                status=step_status,
                cached=rng.random() < 0.15,
                duration_ms=rng.choice([None, rng.randint(0, 5000)]) if number == 1 else rng.randint(0, 5000),
                tokens_used=rng.choice([0, rng.randint(1, 900)]),
                error=error if step_status == StepStatus.FAILED else "",
                # Some finish hours after the run began: tokens count in the hour they were used.
                completed_at=min(now, created + timedelta(seconds=rng.randint(1, 3 * 3600))),
            )
        for _ in range(rng.choice([0, 0, 1, 3])):
            Log.objects.create(
                execution=execution,
                source="orchestration.engine.gates",
                level="INFO",
                message="Step 1 waits for rate limit llm.chat: 60 per 60s, next window in 3s",
                timestamp=min(now, created + timedelta(seconds=rng.randint(0, 7200))),
            )
        made.append(execution)
    return made


def _direct(ids, range_key, now):
    """The panels computed straight from the rows, the simplest way, with none of the dashboard's code."""
    chosen = RANGES[range_key]
    since = now - chosen.span
    runs = Execution.objects.filter(workspace_id__in=ids, created_at__gte=since)
    per_bucket = defaultdict(Counter)
    for created_at, status in runs.values_list("created_at", "status"):
        per_bucket[bucket_of(created_at, chosen.bucket)][status] += 1
    steps = ExecutionStep.objects.filter(execution__in=runs, status__in=[StepStatus.SUCCEEDED, StepStatus.FAILED])
    tools = defaultdict(lambda: {"finished": 0, "failed": 0, "cached": 0, "tokens": 0, "durations": []})
    errors = Counter()
    tokens_by_bucket = Counter()
    tokens_by_agent = Counter()
    for step in steps:
        tool = tools[step.tool]
        tool["finished"] += 1
        tool["tokens"] += step.tokens_used
        if step.status == StepStatus.FAILED:
            tool["failed"] += 1
            errors[(step.tool, step.error[:160] or "(no message)")] += 1
            continue
        if step.cached:
            tool["cached"] += 1
        elif step.duration_ms is not None:
            tool["durations"].append(float(step.duration_ms))
        if step.completed_at and step.tokens_used:
            tokens_by_bucket[bucket_of(step.completed_at, chosen.bucket)] += step.tokens_used
            tokens_by_agent[step.agent_id] += step.tokens_used
    throttles = Counter(
        bucket_of(at, chosen.bucket)
        for at in Log.objects.filter(
            execution__workspace_id__in=ids,
            timestamp__gte=since,
            source="orchestration.engine.gates",
            message__contains="waits for rate limit",
        ).values_list("timestamp", flat=True)
    )
    tool_rows = {}
    for name, tool in tools.items():
        durations = sorted(tool["durations"])
        tool_rows[name] = (
            tool["finished"],
            tool["failed"],
            tool["cached"],
            tool["tokens"],
            percentile(durations, 0.5) if durations else None,
            percentile(durations, 0.95) if durations else None,
            max(durations) if durations else None,
        )
    return {
        "totals": dict(sum(per_bucket.values(), Counter())),
        "runs": {b: dict(c) for b, c in per_bucket.items() if c},
        "tools": tool_rows,
        "errors": sorted(errors.items(), key=lambda item: (-item[1], item[0]))[:5],
        "tokens_by_bucket": {b: n for b, n in tokens_by_bucket.items() if n},
        "tokens_by_agent": dict(tokens_by_agent),
        "throttles": {b: n for b, n in throttles.items() if n},
    }


def _seen(board):
    """The same figures as the board shows them."""
    return {
        "totals": board.totals,
        "runs": {b: counts for b, counts in board.runs.items() if counts},
        "tools": {
            t.tool: (
                t.finished,
                t.failed,
                t.cached,
                t.tokens,
                t.p50_ms,
                t.p95_ms,
                None if t.max_ms is None else float(t.max_ms),
            )
            for t in board.tools
        },
        "errors": [((tool, head), n) for tool, head, n in board.top_errors],
        "tokens_by_bucket": {b: n for b, n in board.tokens_by_bucket.items() if n},
        "tokens_by_agent": board.tokens_by_agent,
        "throttles": {b: n for b, n in board.throttles.items() if n},
    }


def _assert_same(ids, now):
    for key in RANGES:
        assert _seen(dashboard.build(ids, key, now=now)) == _direct(ids, key, now), key


@pytest.fixture
def generated(workspace_a, workspace_b):
    return _generate([workspace_a, workspace_b])


def test_it_gives_the_same_figures_from_rollups_as_from_the_rows(workspace_a, workspace_b, generated):
    now = timezone.now()
    assert rollups.roll_window(now - timedelta(days=31), now) > 24 * 30
    assert MetricRollup.objects.filter(workspace=workspace_a).exists()
    assert MetricRollup.objects.exclude(pending=[]).exists()  # unfinished runs are read from their rows

    _assert_same([workspace_a.pk], now)
    _assert_same([workspace_a.pk, workspace_b.pk], now)


def test_it_reads_rollups_stored_before_durations_were_packed(workspace_a, generated):
    now = timezone.now()
    rollups.roll_window(now - timedelta(days=31), now)
    # Durations were stored as JSON lists of numbers until they were packed: such rows still read alike.
    listed = 0
    for row in MetricRollup.objects.filter(workspace=workspace_a):
        figures = json.loads(row.figures)
        for stats in figures.get("tools", {}).values():
            stats[5] = sorted(np.frombuffer(base64.b64decode(stats[5]), dtype="<u4").tolist())
            listed += len(stats[5])
        MetricRollup.objects.filter(pk=row.pk).update(figures=json.dumps(figures))
    assert listed > 50

    _assert_same([workspace_a.pk], now)


def test_it_stays_exact_when_rolled_up_runs_are_resumed_or_finish_late(alice, workspace_a, generated):
    now = timezone.now()
    rollups.roll_window(now - timedelta(days=31), now)
    rolled = Execution.objects.filter(workspace=workspace_a, created_at__lt=now - timedelta(hours=3))
    failed = rolled.filter(status=ExecutionStatus.FAILED).first()
    running = rolled.filter(status=ExecutionStatus.RUNNING).first()

    # Rolled up as failed, running again (its steps wait for a step that never comes, so it stays running).
    failed.steps.exclude(status=StepStatus.SUCCEEDED).update(depends_on=[99])
    assert resume_run(Execution.objects.get(pk=failed.pk), alice)
    assert not MetricRollup.objects.filter(stale=True).exists()
    _assert_same([workspace_a.pk], timezone.now())

    assert cancel(Execution.objects.get(pk=running.pk), alice)  # left out as pending, finished now
    assert cancel(Execution.objects.get(pk=failed.pk), alice)  # resumed, finished again
    assert MetricRollup.objects.filter(stale=True).exists()
    _assert_same([workspace_a.pk], timezone.now())

    rollups.roll_due()  # stale hours are rolled up again and agree still
    assert not MetricRollup.objects.filter(stale=True).exists()
    _assert_same([workspace_a.pk], timezone.now())


def test_it_rolls_up_closed_hours_newest_first_and_again_without_change(workspace_a, generated):
    now = timezone.now()
    assert rollups.roll_due(now, limit=3) == 3
    newest = rollups.last_closed_hour(now)
    assert set(RolledHour.objects.values_list("hour", flat=True)) == {newest - timedelta(hours=n) for n in range(3)}
    stored = MetricRollup.objects.order_by("workspace_id", "hour")
    before = list(stored.values_list("hour", "figures", "throttles", "pending"))

    rollups.roll_window(newest - timedelta(hours=2), now, rebuild=True)

    assert list(stored.values_list("hour", "figures", "throttles", "pending")) == before


def test_it_rolls_up_from_the_telemetry_flusher_every_minute(workspace_a, generated):
    ran = []

    def job():
        ran.append(rollups.roll_due(limit=2))

    batching.every(60, job)
    try:
        batching.run_periodic(now=0)
        assert ran == []  # not due yet
        batching.run_periodic(now=1e12)
        assert ran == [2]
        assert RolledHour.objects.count() == 2
    finally:
        batching.cancel(job)


def test_it_prunes_rollups_past_their_horizon_and_throttles_of_pruned_logs(workspace_a, generated):
    now = timezone.now()
    rollups.roll_window(now - timedelta(days=31), now)
    counts = prune(7, now=now)

    assert counts["metric_rollups"] == 0  # kept for the 30-day view
    assert not MetricRollup.objects.filter(hour__lt=now - timedelta(days=7, hours=1), throttles__gt=0).exists()
    _assert_same([workspace_a.pk], now)  # the rows lost those throttles too

    MetricRollup.objects.update(hour=F("hour") - timedelta(days=40))
    assert prune(7, now=now, dry_run=True)["metric_rollups"] == MetricRollup.objects.count() > 0
    prune(7, now=now)
    assert not MetricRollup.objects.exists()
