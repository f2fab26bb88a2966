"""Dashboard queries against a large database: 100,000 runs and 1,000,000 metric rows by default.

    .venv/bin/python -m bench.monitoring_dashboard
    .venv/bin/python -m bench.monitoring_dashboard --executions 20000 --metrics 200000 --repeat 3 --keep
    .venv/bin/python -m bench.monitoring_dashboard --database-url sqlite:////tmp/bench-monitoring.sqlite3

It creates the database (dropped at the end unless --keep), migrates it,
fills it with generated rows in SQL (runs spread over the last 30 days across
ten workspaces, half of them in the measured user's one; three steps per
run; approvals; run logs with rate-limit throttles; metric rows), then
times, for each time range, the dashboard's figures (`monitoring.dashboard.build`),
the whole page through Django's test client, a Prometheus scrape (/metrics)
and the first page of the logs page, counting their queries. It prints
figures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from typing import Any

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/orchestrate_bench_monitoring"
WORKSPACES = 10


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.monitoring_dashboard", description=__doc__.split("\n\n")[0])
    p.add_argument("--executions", type=int, default=100_000)
    p.add_argument("--metrics", type=int, default=1_000_000)
    p.add_argument("--logs-per-run", type=int, default=3)
    p.add_argument("--repeat", type=int, default=5, help="timed repetitions after one warm-up")
    p.add_argument(
        "--database-url", default=DEFAULT_URL, help="dropped and created at the start (postgres:// or sqlite:///path)"
    )
    p.add_argument("--keep", action="store_true", help="keep the database afterwards (and reuse it with --reuse)")
    p.add_argument("--reuse", action="store_true", help="skip creating and filling: measure the kept database")
    return p


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def fill(executions: int, metrics: int, logs_per_run: int) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from tenancy.models import Workspace, WorkspaceMember

    user = get_user_model().objects.create_user("bench", password="bench-password-123")
    spaces = [Workspace.objects.create(name=f"bench {n}") for n in range(WORKSPACES)]
    WorkspaceMember.objects.create(workspace=spaces[0], user=user, role="owner")
    ids = [str(ws.pk) for ws in spaces]
    with connection.cursor() as cursor:
        log(f"{executions} executions")
        cursor.execute(
            """
            INSERT INTO executions (id, workspace_id, user_id, request, status, current_step, total_steps,
                                    error, created_at, updated_at, completed_at, answers, plan_only)
            SELECT gen_random_uuid(),
                   CASE WHEN i %% 2 = 0 THEN (%(ws)s::uuid[])[1] ELSE (%(ws)s::uuid[])[2 + (i / 2) %% 9] END,
                   %(user)s, 'bench run ' || i,
                   CASE WHEN i %% 100 < 85 THEN 'succeeded' WHEN i %% 100 < 95 THEN 'failed'
                        WHEN i %% 100 < 98 THEN 'cancelled' ELSE 'running' END,
                   3, 3,
                   CASE WHEN i %% 100 BETWEEN 85 AND 94 THEN 'Step 3 failed' ELSE '' END,
                   now() - (i::float / %(n)s) * interval '30 days',
                   now() - (i::float / %(n)s) * interval '30 days',
                   now() - (i::float / %(n)s) * interval '30 days' + interval '5 seconds',
                   '{}', false
            FROM generate_series(1, %(n)s) AS i
            """,
            {"ws": ids, "user": user.pk, "n": executions},
        )
        log(f"{executions * 3} steps")
        cursor.execute(
            """
            INSERT INTO execution_steps (id, execution_id, step_number, agent_id, tool, depends_on, dependents,
                remaining_deps, optional, status, waiting_for, input, error, started_at, completed_at, duration_ms,
                tokens_used, cached, attempts, max_attempts, claimed_by)
            SELECT gen_random_uuid(), e.id, s.n, split_part(t.tool, '.', 1), t.tool, '[]', '[]', 0, false,
                   CASE WHEN e.status = 'failed' AND s.n = 3 THEN 'failed' ELSE 'succeeded' END, '', '{}',
                   CASE WHEN e.status = 'failed' AND s.n = 3 THEN 'timeout after ' || (s.n * 100) || ' s' ELSE '' END,
                   e.created_at + s.n * interval '1 second', e.created_at + s.n * interval '1 second'
                       + (random() * 2) * interval '1 second',
                   (random() * 2000)::int, (random() * 500)::int, random() < 0.1, 1, 3, ''
            FROM executions e CROSS JOIN generate_series(1, 3) AS s(n)
            CROSS JOIN LATERAL (SELECT (ARRAY['drive.search', 'analysis.describe', 'report.compose', 'llm.chat',
                'web.get', 'email.send', 'calendar.create_event', 'drive.read'])
                [1 + (abs(hashtext(e.id::text)) + s.n) % 8] AS tool) t
            """
        )
        log(f"{executions // 100} approvals")
        cursor.execute(
            """
            INSERT INTO pending_approvals (id, execution_id, action_type, action_data, reason, estimated_impact,
                                           status, created_at, resolved_at, comment, bound_files, input_digest)
            SELECT gen_random_uuid(), e.id, 'email.send', '{}', 'critical', '{}',
                   CASE WHEN row_number() OVER () %% 10 = 0 THEN 'pending' ELSE 'approved' END,
                   e.created_at,
                   CASE WHEN row_number() OVER () %% 10 = 0 THEN NULL
                        ELSE e.created_at + (random() * 600) * interval '1 second' END, '', '[]', ''
            FROM (SELECT id, created_at FROM executions ORDER BY id LIMIT %(n)s) e
            """,
            {"n": executions // 100},
        )
        log(f"{executions * logs_per_run} run logs (one in twenty a rate-limit throttle)")
        cursor.execute(
            """
            INSERT INTO logs (execution_id, source, level, message, metadata, timestamp)
            SELECT e.id,
                   CASE WHEN g.k %% 20 = 0 THEN 'orchestration.engine.gates' ELSE 'orchestration.engine.steps' END,
                   'INFO',
                   CASE WHEN g.k %% 20 = 0 THEN 'Step 1 waits for rate limit llm.chat: 60 per 60s, next window in 3s'
                        ELSE 'Step ' || s.n || ' succeeded' END,
                   '{}', e.created_at + s.n * interval '1 second'
            FROM executions e CROSS JOIN generate_series(1, %(per)s) AS s(n)
            CROSS JOIN LATERAL (SELECT abs(hashtext(e.id::text || s.n)) AS k) g
            """,
            {"per": logs_per_run},
        )
        log(f"{metrics} metric rows")
        cursor.execute(
            """
            INSERT INTO metrics (metric_name, metric_value, tags, timestamp)
            SELECT (ARRAY['step.duration_ms','step.tokens','execution.duration_ms','cache.hit'])[1 + i %% 4],
                   random() * 1000, jsonb_build_object('tool', 'drive.search', 'status', 'succeeded'),
                   now() - (i::float / %(n)s) * interval '30 days'
            FROM generate_series(1, %(n)s) AS i
            """,
            {"n": metrics},
        )
        cursor.execute("ANALYZE")
    return {"user": user, "workspace_ids": [spaces[0].pk]}


def measure(action: Callable[[], Any], repeat: int) -> tuple[float, float, int]:
    """Median and maximum milliseconds over `repeat` calls after a warm-up, and the queries of one call."""
    from django.db import connection

    sent: list[str] = []

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        sent.append(sql)
        return execute(sql, params, many, context)

    action()
    # An execute wrapper, not connection.queries: a request resets that list when it starts.
    with connection.execute_wrapper(count):
        action()
    captured = sent
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times), len(captured)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="orchestrate-bench-monitoring-")
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=args.database_url,
        ORCHESTRATE_VAR_DIR=tmp,
        ORCHESTRATE_LOG_FLUSHER="0",
        ALLOWED_HOSTS="testserver",
    )
    os.environ.pop("REDIS_URL", None)
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    sqlite = args.database_url.startswith("sqlite:")
    if sqlite:
        from pathlib import Path

        from bench import monitoring_dashboard_sqlite as on_sqlite

        sqlite_path = Path(args.database_url.removeprefix("sqlite:///"))

        def recreate_database(database_url: str) -> None:
            on_sqlite.recreate(sqlite_path)

        def drop_database(database_url: str) -> None:
            on_sqlite.recreate(sqlite_path)
    else:
        from bench.services import drop_database, recreate_database

    if not args.reuse:
        recreate_database(args.database_url)
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from monitoring import dashboard, logsearch, prometheus

    try:
        log("migrating")
        call_command("migrate", verbosity=0)
        if args.reuse:
            from django.contrib.auth import get_user_model

            from tenancy.models import WorkspaceMember

            user = get_user_model().objects.get(username="bench")
            data: dict[str, Any] = {
                "user": user,
                "workspace_ids": list(WorkspaceMember.objects.filter(user=user).values_list("workspace_id", flat=True)),
            }
        else:
            started = time.perf_counter()
            filler = on_sqlite.fill if sqlite else fill
            data = filler(args.executions, args.metrics, args.logs_per_run)
            log(f"filled in {time.perf_counter() - started:.0f} s")
        from django.utils import timezone

        from monitoring import rollups

        log("rolling up every closed hour of the last 31 days (manage.py rollup --rebuild)")
        started = time.perf_counter()
        hours = rollups.roll_window(timezone.now() - rollups.HORIZON, timezone.now(), rebuild=True)
        backfill_s = time.perf_counter() - started
        log(f"rolled up {hours} hours in {backfill_s:.1f} s")
        last = rollups.last_closed_hour()
        client = Client()
        client.force_login(data["user"])
        user, ids = data["user"], list(data["workspace_ids"])
        rows: list[tuple[str, int | None, float, float, int]] = []
        for key in dashboard.RANGES:
            board = dashboard.build(ids, key)
            runs = sum(board.totals.values())
            rows.append(
                (
                    f"dashboard.build {key}",
                    runs,
                    *measure(partial(dashboard.build, ids, key), args.repeat),
                )
            )
            rows.append(
                (
                    f"GET /monitoring/?range={key}",
                    runs,
                    *measure(partial(client.get, f"/monitoring/?range={key}"), args.repeat),
                )
            )
        rows.append(
            ("roll up one hour (all workspaces)", None, *measure(partial(rollups.roll_hour, last), args.repeat))
        )
        rows.append(("GET /metrics (table gauges)", None, *measure(prometheus.exposition, args.repeat)))
        filters = logsearch.LogFilters()
        rows.append(("logs page 1 (50 rows)", None, *measure(partial(logsearch.page, user, filters), args.repeat)))
        print(
            f"\n{args.executions:,} executions ({args.executions // 2:,} in the user's workspace), "
            f"{args.executions * 3:,} steps, {args.metrics:,} metric rows, {args.executions * args.logs_per_run:,} logs"
        )
        print(f"rollup backfill: {hours} hours in {backfill_s:.1f} s")
        print(f"{'what':36} {'runs in range':>14} {'median ms':>10} {'max ms':>8} {'queries':>8}")
        for name, in_range, median, worst, queries in rows:
            shown = "" if in_range is None else f"{in_range:,}"
            print(f"{name:36} {shown:>14} {median:10.1f} {worst:8.1f} {queries:8d}")
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            drop_database(args.database_url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
