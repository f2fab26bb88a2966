"""The monitoring dashboard bench's data on SQLite: the rows `fill` makes in PostgreSQL, made in Python.

Used by bench/monitoring_dashboard.py when --database-url is a sqlite:// URL.
The same shape as the PostgreSQL fill: runs spread over the last 30 days,
half in the measured user's workspace, three steps per run with durations
0-2 s and 0-500 tokens, one approval per hundred runs, run logs with one
in twenty a rate-limit throttle, and metric rows. Rows go in with
`executemany` (SQLite has no generate_series-style fill as fast).
"""

from __future__ import annotations

import json
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

TOOLS = [
    "drive.search",
    "analysis.describe",
    "report.compose",
    "llm.chat",
    "web.get",
    "email.send",
    "calendar.create_event",
    "drive.read",
]
BATCH = 20_000


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def recreate(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _stamp(moment: datetime) -> str:
    # Django's SQLite format for aware datetimes stored in UTC.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


def _insert(cursor: Any, table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
    placeholders = ", ".join(["%s"] * len(columns.split(",")))
    sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"
    for start in range(0, len(rows), BATCH):
        cursor.executemany(sql, rows[start : start + BATCH])


def fill(executions: int, metrics: int, logs_per_run: int, workspaces: int = 10) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from tenancy.models import Workspace, WorkspaceMember

    rng = random.Random(2026)
    user = get_user_model().objects.create_user("bench", password="bench-password-123")
    spaces = [Workspace.objects.create(name=f"bench {n}") for n in range(workspaces)]
    WorkspaceMember.objects.create(workspace=spaces[0], user=user, role="owner")
    now = datetime.now(UTC)
    runs: list[tuple[Any, ...]] = []
    steps: list[tuple[Any, ...]] = []
    logs: list[tuple[Any, ...]] = []
    for i in range(1, executions + 1):
        run_id = uuid.uuid4()
        workspace = spaces[0] if i % 2 == 0 else spaces[1 + (i // 2) % (workspaces - 1)]
        share = i % 100
        status = "succeeded" if share < 85 else "failed" if share < 95 else "cancelled" if share < 98 else "running"
        created = now - timedelta(days=30) * (i / executions)
        runs.append(
            (
                run_id.hex,
                workspace.pk.hex,
                user.pk,
                f"bench run {i}",
                status,
                3,
                3,
                "Step 3 failed" if 85 <= share <= 94 else "",
                _stamp(created),
                _stamp(created),
                _stamp(created + timedelta(seconds=5)),
                "{}",
                False,
            )
        )
        for n in (1, 2, 3):
            tool = TOOLS[(run_id.int + n) % 8]
            failed = status == "failed" and n == 3
            started = created + timedelta(seconds=n)
            steps.append(
                (
                    uuid.uuid4().hex,
                    run_id.hex,
                    n,
                    tool.split(".")[0],
                    tool,
                    "[]",
                    "[]",
                    0,
                    False,
                    "failed" if failed else "succeeded",
                    "",
                    "{}",
                    f"timeout after {n * 100} s" if failed else "",
                    _stamp(started),
                    _stamp(started + timedelta(seconds=rng.random() * 2)),
                    int(rng.random() * 2000),
                    int(rng.random() * 500),
                    rng.random() < 0.1,
                    1,
                    3,
                    "",
                )
            )
        for n in range(1, logs_per_run + 1):
            throttle = uuid.uuid5(run_id, str(n)).int % 20 == 0
            logs.append(
                (
                    run_id.hex,
                    "orchestration.engine.gates" if throttle else "orchestration.engine.steps",
                    "INFO",
                    "Step 1 waits for rate limit llm.chat: 60 per 60s, next window in 3s"
                    if throttle
                    else f"Step {n} succeeded",
                    "{}",
                    _stamp(created + timedelta(seconds=n)),
                )
            )
    approvals = [
        (
            uuid.uuid4().hex,
            run[0],
            "email.send",
            "{}",
            "critical",
            "{}",
            "pending" if index % 10 == 0 else "approved",
            run[8],
            None
            if index % 10 == 0
            else _stamp(datetime.fromisoformat(run[8]).replace(tzinfo=UTC) + timedelta(seconds=rng.random() * 600)),
            "",
            "[]",
            "",
        )
        for index, run in enumerate(sorted(runs)[: executions // 100], start=1)
    ]
    names = ["step.duration_ms", "step.tokens", "execution.duration_ms", "cache.hit"]
    tags = json.dumps({"tool": "drive.search", "status": "succeeded"})
    metric_rows = [
        (names[i % 4], rng.random() * 1000, tags, _stamp(now - timedelta(days=30) * (i / metrics)))
        for i in range(1, metrics + 1)
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        log(f"{executions} executions")
        _insert(
            cursor,
            "executions",
            (
                "id, workspace_id, user_id, request, status, current_step, total_steps, error, created_at, "
                "updated_at, completed_at, answers, plan_only"
            ),
            runs,
        )
        log(f"{len(steps)} steps")
        _insert(
            cursor,
            "execution_steps",
            (
                "id, execution_id, step_number, agent_id, tool, depends_on, dependents, remaining_deps, "
                "optional, status, waiting_for, input, error, started_at, completed_at, duration_ms, "
                "tokens_used, cached, attempts, max_attempts, claimed_by"
            ),
            steps,
        )
        log(f"{len(approvals)} approvals")
        _insert(
            cursor,
            "pending_approvals",
            (
                "id, execution_id, action_type, action_data, reason, estimated_impact, status, created_at, "
                "resolved_at, comment, bound_files, input_digest"
            ),
            approvals,
        )
        log(f"{len(logs)} run logs")
        _insert(
            cursor,
            "logs",
            "execution_id, source, level, message, metadata, timestamp",
            logs,
        )
        log(f"{metrics} metric rows")
        _insert(
            cursor,
            "metrics",
            "metric_name, metric_value, tags, timestamp",
            metric_rows,
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"user": user, "workspace_ids": [spaces[0].pk]}
