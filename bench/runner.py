"""One benchmark mode, run in a process of its own (a child of bench/engine.py).

Each mode needs its own settings, which Django reads once at start-up from
the environment, so the parent starts `python -m bench.engine --child MODE`
and this module sets the environment up before Django is imported.

The child returns raw measurements (one total time and one query count per
repetition); the parent computes the figures.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench import querycount
from bench.services import CeleryWorker, drop_database, recreate_database

POLL_SECONDS = 0.02  # only to notice the end; the time itself is the run's completed_at


class RunFailed(RuntimeError):
    pass


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def steps_of(shape: str, size: int) -> int:
    return size + 1 if shape == "fanout" else size


def build_plan(shape: str, size: int, *, join_inputs: bool = False) -> dict[str, Any]:
    """chain: step n uses step n-1's output; fanout: N independent steps, then a join on all of them."""
    steps: list[dict[str, Any]]
    if shape == "chain":
        steps = [{"tool": "bench.noop", "input": {"value": 0}}]
        steps += [
            {"tool": "bench.noop", "input": {"value": {"$step": n - 1, "path": "value"}}, "depends_on": [n - 1]}
            for n in range(2, size + 1)
        ]
    else:
        steps = [{"tool": "bench.noop", "input": {"value": n}} for n in range(1, size + 1)]
        value: Any = [{"$step": n, "path": "value"} for n in range(1, size + 1)] if join_inputs else "join"
        steps.append({"tool": "bench.noop", "input": {"value": value}, "depends_on": list(range(1, size + 1))})
    return {"steps": [{"number": n, **step} for n, step in enumerate(steps, start=1)]}


def environment(mode: str, args: Any, tmp: Path) -> dict[str, str]:
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "ORCHESTRATE_VAR_DIR": str(tmp),
        "MEDIA_ROOT": str(tmp / "media"),
        "ORCHESTRATE_EXTRA_TOOLS": "bench.tools.NoopTool",
        "ORCHESTRATE_WORKERS": str(args.workers),
        "ORCHESTRATE_QUEUE": f"orchestrate-bench-{os.getpid()}",
        "LOG_LEVEL": "WARNING",
        "BENCH_COUNT_QUERIES": "1",
        "DEBUG": "0",
    }
    if mode == "embedded":
        env.update(DATABASE_URL=f"sqlite:///{tmp / 'bench.sqlite3'}", ORCHESTRATE_RUN_MODE="embedded")
    else:
        env.update(DATABASE_URL=args.database_url, REDIS_URL=args.redis_url, ORCHESTRATE_RUN_MODE="celery")
    return env


def child_main(mode: str, args: Any) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix=f"orchestrate-bench-{mode}-"))
    try:
        os.environ.update(environment(mode, args, tmp))
        if mode == "embedded":
            os.environ.pop("REDIS_URL", None)
        if mode == "bare":
            os.environ.pop("DJANGO_SETTINGS_MODULE", None)  # bare workers must not set Django up
            return {"mode": mode, "configs": BareDriver(args, tmp).run_all()}
        return EngineDriver(mode, args, tmp).run_all()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def forget_queue(client: Any, queue: str, *keys: str) -> None:
    """Delete this run's own Redis keys: its queue's kombu bindings and counters."""
    client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}", *keys)


def _configurations(args: Any) -> list[tuple[str, int]]:
    return [(shape, size) for shape in args.shapes for size in args.sizes]


def _measure(args: Any, shape: str, size: int, once: Any) -> dict[str, Any]:
    """A warm-up run, then `args.repeat` measured runs of one configuration."""
    result: dict[str, Any] = {"shape": shape, "size": size, "steps": steps_of(shape, size), "totals_ms": []}
    result["queries"] = []
    result["commits"] = []
    try:
        for index in range(args.repeat + 1):
            elapsed, queries, *rest = once(index)
            commits = rest[0] if rest else 0
            if index and len(rest) > 1:
                result.setdefault("checkpoint_bytes", []).append(rest[1])
            label = "warm-up" if index == 0 else f"run {index}/{args.repeat}"
            log(f"{shape} N={size} {label}: {elapsed * 1000:.0f} ms, {queries} queries, {commits} write commits")
            if index:
                result["totals_ms"].append(elapsed * 1000)
                result["queries"].append(queries)
                result["commits"].append(commits)
    except Exception as exc:
        log(f"{shape} N={size} failed: {exc}")
        result["error"] = f"{type(exc).__name__}: {exc}"
    return result


class EngineDriver:
    def __init__(self, mode: str, args: Any, tmp: Path) -> None:
        self.mode, self.args, self.tmp = mode, args, tmp
        self.worker: CeleryWorker | None = None
        self.redis: Any = None
        self.counter_key = f"bench:queries:{os.getpid()}"
        self.checkpoint_bytes: list[int] = []

    def run_all(self) -> dict[str, Any]:
        if self.mode == "celery":
            recreate_database(self.args.database_url)
        try:
            import django

            django.setup()
            from django.core.management import call_command

            log(f"{self.mode}: migrating a fresh database")
            call_command("migrate", verbosity=0, interactive=False)
            querycount.hook_open_connections()
            self._make_owner()
            if self.mode == "embedded":
                from config.memory import freeze_startup_objects

                # As a server does once the app is loaded (config/asgi.py): the engine's threads run in it.
                freeze_startup_objects()
            if self.mode == "celery":
                self._start_worker()
            configs = [
                _measure(self.args, shape, size, self._once(shape, size)) for shape, size in _configurations(self.args)
            ]
            profiles = self._profiles() if self.mode == "embedded" and self.args.top_sql else []
            return {"mode": self.mode, "configs": configs, "profiles": profiles}
        finally:
            if self.worker is not None:
                self.worker.stop()
                forget_queue(
                    self.redis, os.environ["ORCHESTRATE_QUEUE"], self.counter_key, f"{self.counter_key}:commits"
                )
            if self.mode == "celery":
                from django.db import connections

                connections.close_all()
                drop_database(self.args.database_url)

    def _make_owner(self) -> None:
        from django.contrib.auth import get_user_model

        from tenancy.models import Workspace, WorkspaceMember

        self.user = get_user_model().objects.create_user(username="bench", email="bench@example.com")
        self.workspace = Workspace.objects.create(name="bench")
        WorkspaceMember.objects.create(workspace=self.workspace, user=self.user, role="owner")

    def _start_worker(self) -> None:
        import redis

        from config.celery import app

        self.redis = redis.Redis.from_url(os.environ["REDIS_URL"])
        self.redis.delete(self.counter_key)
        env = {**os.environ, "BENCH_QUERY_REDIS_KEY": self.counter_key}
        log(f"celery: starting a worker (concurrency {self.args.workers}) on queue {os.environ['ORCHESTRATE_QUEUE']}")
        self.worker = CeleryWorker(
            "config",
            queue=os.environ["ORCHESTRATE_QUEUE"],
            concurrency=self.args.workers,
            env=env,
            log_path=self.tmp / "worker.log",
        )
        self.worker.wait_ready(app)

    def _worker_queries(self) -> int:
        return int(self.redis.get(self.counter_key) or 0) if self.redis is not None else 0

    def _worker_commits(self) -> int:
        return int(self.redis.get(f"{self.counter_key}:commits") or 0) if self.redis is not None else 0

    def _once(self, shape: str, size: int) -> Any:
        plan = build_plan(shape, size, join_inputs=self.args.join_inputs)

        def once(index: int) -> tuple[float, int, int, int]:
            elapsed, queries, commits = self.run_once(shape, size, plan)
            return elapsed, queries, commits, self.checkpoint_bytes[-1]

        return once

    def run_once(self, shape: str, size: int, plan: dict[str, Any]) -> tuple[float, int, int]:
        from orchestration.engine.runs import submit

        local_before, workers_before = querycount.count(), self._worker_queries()
        commits_before = querycount.commits() + self._worker_commits()
        started = time.time()
        execution = submit(user=self.user, workspace=self.workspace, request_text=f"bench {shape} {size}", plan=plan)
        if self.mode == "embedded":
            from orchestration.engine.embedded import runtime

            if not runtime().wait_idle(self.args.timeout):
                raise RunFailed(f"embedded workers still busy after {self.args.timeout:g}s")
        else:
            self._poll(execution.pk, started)
        local = querycount.count() - local_before
        elapsed = self._elapsed(execution.pk, started)
        self.checkpoint_bytes.append(self._checkpoint_bytes(execution.pk))
        if self.mode == "celery":
            queries = local + self._settle() - workers_before
            return elapsed, queries, querycount.commits() + self._worker_commits() - commits_before
        return elapsed, local, querycount.commits() - commits_before

    def _poll(self, execution_id: Any, started: float) -> None:
        from orchestration.models import FINISHED_STATUSES, Execution

        with querycount.paused():
            while time.time() - started < self.args.timeout:
                status = Execution.objects.filter(pk=execution_id).values_list("status", flat=True).first()
                if status in FINISHED_STATUSES:
                    return
                time.sleep(POLL_SECONDS)
        raise RunFailed(f"run not finished after {self.args.timeout:g}s")

    def _elapsed(self, execution_id: Any, started: float) -> float:
        """From just before submit() to the moment the engine marked the run succeeded (its completed_at)."""
        from orchestration.models import Execution, ExecutionStatus

        with querycount.paused():
            execution = Execution.objects.get(pk=execution_id)
            if execution.status != ExecutionStatus.SUCCEEDED:
                steps = list(execution.steps.exclude(status="succeeded").values_list("step_number", "status", "error"))
                raise RunFailed(f"run {execution.status}: {execution.error} {steps[:5]}")
        assert execution.completed_at is not None, "a succeeded run has its completion time"
        return execution.completed_at.timestamp() - started

    def _checkpoint_bytes(self, execution_id: Any) -> int:
        """The run's checkpoint rows, as the JSON text of their state and context."""
        from django.db.models import Sum, TextField
        from django.db.models.functions import Cast, Length

        from persistence.models import ExecutionCheckpoint

        with querycount.paused():
            sizes = ExecutionCheckpoint.objects.filter(execution_id=execution_id).aggregate(
                state=Sum(Length(Cast("state", TextField()))), context=Sum(Length(Cast("context", TextField())))
            )
        return int(sizes["state"] or 0) + int(sizes["context"] or 0)

    def _settle(self) -> int:
        """The workers' query counter once the run's last task returned and its count was flushed."""
        queue = os.environ["ORCHESTRATE_QUEUE"]
        last, stable_since = -1, time.monotonic()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            current = self._worker_queries()
            if current != last or self.redis.llen(queue):
                last, stable_since = current, time.monotonic()
            elif time.monotonic() - stable_since >= 2 * querycount.FLUSH_SECONDS + 0.1:
                break
            time.sleep(0.05)
        return last

    def _profiles(self) -> list[dict[str, Any]]:
        """One extra, untimed run per shape with every statement grouped by its SQL."""
        size = max([s for s in self.args.sizes if s <= self.args.profile_size] or [min(self.args.sizes)])
        profiles = []
        for shape in self.args.shapes:
            plan = build_plan(shape, size, join_inputs=self.args.join_inputs)
            with querycount.profile() as statements:
                self.run_once(shape, size, plan)
            steps = steps_of(shape, size)
            top = sorted(statements.items(), key=lambda item: item[1][1], reverse=True)[: self.args.top_sql]
            profiles.append(
                {
                    "shape": shape,
                    "size": size,
                    "steps": steps,
                    "total_queries": sum(int(count) for count, _ in statements.values()),
                    "total_ms": sum(seconds for _, seconds in statements.values()) * 1000,
                    "statements": [
                        {"sql": sql, "count": int(count), "ms": seconds * 1000} for sql, (count, seconds) in top
                    ],
                }
            )
        return profiles


class BareDriver:
    def __init__(self, args: Any, tmp: Path) -> None:
        self.args, self.tmp = args, tmp

    def run_all(self) -> list[dict[str, Any]]:
        from bench import bare_tasks

        self.tasks = bare_tasks
        self.redis = bare_tasks.redis_client()
        log(f"bare: starting a worker (concurrency {self.args.workers}) on queue {os.environ['ORCHESTRATE_QUEUE']}")
        worker = CeleryWorker(
            "bench.bare_tasks",
            queue=os.environ["ORCHESTRATE_QUEUE"],
            concurrency=self.args.workers,
            env=dict(os.environ),
            log_path=self.tmp / "worker.log",
        )
        try:
            worker.wait_ready(bare_tasks.app)
            return [
                _measure(self.args, shape, size, lambda index, s=shape, n=size: self.run_once(s, n))
                for shape, size in _configurations(self.args)
            ]
        finally:
            worker.stop()
            forget_queue(self.redis, os.environ["ORCHESTRATE_QUEUE"])

    def run_once(self, shape: str, size: int) -> tuple[float, int]:
        run_id = uuid.uuid4().hex
        done = self.tasks.done_key(run_id)
        started = time.time()
        self.tasks.start.apply_async(args=(run_id, shape, size))
        reply = None
        while reply is None and time.time() - started < self.args.timeout:
            # Short waits: redis-py's default socket timeout (5 s) would cut a longer BLPOP.
            reply = self.redis.blpop([done], timeout=1)
        if reply is None:
            raise RunFailed(f"bare run not finished after {self.args.timeout:g}s")
        self.redis.delete(done, self.tasks.completed_key(run_id))
        return float(reply[1]) - started, 0
