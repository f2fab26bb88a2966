"""Live progress under load: K websocket clients on a run's page while the run goes.

    .venv/bin/python -m bench.websockets                       # embedded, K = 0, 50, 200, a 50-step chain
    .venv/bin/python -m bench.websockets --modes celery --clients 0,50 --steps 50

A real daphne serves `config.asgi` (the server `make run` starts); K clients
open /ws/executions/<id>/ as the page does (signed in, same origin), wait for
the catch-up frame, and then a chain of no-op steps starts (its first step
waits for a flag file the driver writes once every client is connected).
Each client notes when each step's "succeeded" row reaches it; the step's
completed_at (written in the transaction that ends it) is the commit time.

Printed per mode and K: p50 / p95 / max latency (commit to arrival), step
events missed per client (a step whose "succeeded" row never came as its own
event), bytes received per client per step event, and the run's own ms per
step (first step's start to the run's end) beside the same figure with no
client. A page sends the step events gathered over a short window as one
frame (orchestration/relay.py), so a frame may carry several steps' rows;
each counts. Embedded: SQLite, the engine inside the server process. Celery:
PostgreSQL + Redis (channels-redis), a Celery worker runs the steps.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.ws_client import Client

ROOT = Path(__file__).resolve().parent.parent
DAPHNE = [sys.executable, "-m", "daphne", "--websocket_connect_timeout", "60"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(mode: str, tmp: Path, args: argparse.Namespace) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "ORCHESTRATE_VAR_DIR": str(tmp),
        "MEDIA_ROOT": str(tmp / "media"),
        "ORCHESTRATE_EXTRA_TOOLS": "bench.tools.NoopTool,bench.tools.WaitForFileTool",
        "ORCHESTRATE_QUEUE": f"orchestrate-bench-ws-{os.getpid()}",
        "ORCHESTRATE_SWEEP_SECONDS": "0.2",
        "ORCHESTRATE_EMBEDDED_SWEEPER": "true",
        "LOG_LEVEL": "WARNING",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
    }
    if mode == "embedded":
        env["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
        env["ORCHESTRATE_RUN_MODE"] = "embedded"
        env.pop("REDIS_URL", None)
    else:
        env.update(DATABASE_URL=args.database_url, REDIS_URL=args.redis_url, ORCHESTRATE_RUN_MODE="celery")
    return env


def child(mode: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    """One mode, in a process whose settings come from the environment set by the parent."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client as DjangoClient

    from bench.services import CeleryWorker, drop_database
    from tenancy.models import Workspace, WorkspaceMember

    call_command("migrate", verbosity=0, interactive=False)
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(username="watcher", email="w@example.com")
    workspace = Workspace.objects.create(name="bench")
    WorkspaceMember.objects.create(workspace=workspace, user=user, role="owner")
    web = DjangoClient()
    web.force_login(user)
    cookie = f"sessionid={web.cookies['sessionid'].value}"
    tmp = Path(os.environ["ORCHESTRATE_VAR_DIR"])
    port = _free_port()
    log = (tmp / "daphne.log").open("w")
    server = subprocess.Popen(
        # A longer handshake timeout than daphne's 5 s: K clients connect at once on a busy machine.
        [*DAPHNE, "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    worker = None
    try:
        if mode == "celery":
            from config.celery import app

            worker = CeleryWorker(
                "config",
                queue=os.environ["ORCHESTRATE_QUEUE"],
                concurrency=args.workers,
                env=os.environ.copy(),
                log_path=tmp / "worker.log",
            )
            worker.wait_ready(app)
        _wait_for_port(port)
        # Round by round, each K once a round: what drifts over the server's life (a growing database,
        # the pages of the last run still closing) falls on every K alike, not on the last ones.
        # One run first, not counted (the server's first run loads what the next ones find ready).
        asyncio.run(_measure(mode, 0, args, port, cookie, user, workspace, tmp))
        runs: dict[int, list[dict[str, Any]]] = {k: [] for k in args.clients}
        for _ in range(args.repeat):
            for k in args.clients:
                runs[k].append(asyncio.run(_measure(mode, k, args, port, cookie, user, workspace, tmp)))
        return [_combined(runs[k]) for k in args.clients]
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:  # reported, and the figures already measured are kept
            print("[bench ws] the server did not stop within 20 s; killed", file=sys.stderr, flush=True)
            server.kill()
            server.wait()
        log.close()
        errors = [line for line in (tmp / "daphne.log").read_text(errors="replace").splitlines() if "Error" in line]
        if errors:  # what went wrong in the server, before its directory is removed
            print("[bench ws] server errors:\n" + "\n".join(errors[-20:]), file=sys.stderr, flush=True)
        if worker is not None:
            worker.stop()
        if mode == "celery":
            from django.db import connections

            connections.close_all()
            drop_database(args.database_url)


def _wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("daphne did not start")


def _plan(steps: int, flag: Path) -> dict[str, Any]:
    plan: list[dict[str, Any]] = [{"number": 1, "tool": "bench.wait_for_file", "input": {"path": str(flag)}}]
    plan += [
        {"number": n, "tool": "bench.noop", "input": {"value": n}, "depends_on": [n - 1]} for n in range(2, steps + 2)
    ]
    return {"steps": plan}


async def _measure(
    mode: str, k: int, args: argparse.Namespace, port: int, cookie: str, user: Any, workspace: Any, tmp: Path
) -> dict[str, Any]:
    from asgiref.sync import sync_to_async

    from orchestration.engine.dispatch import handed_off_to_workers
    from orchestration.engine.runs import submit
    from orchestration.models import Execution, ExecutionStep

    flag = tmp / f"go-{k}-{time.time()}"

    def start() -> Any:
        if mode == "embedded":
            from orchestration.engine.embedded import runtime

            # The server's own workers run the steps, so its events reach its clients.
            with handed_off_to_workers():
                execution = submit(user=user, workspace=workspace, request_text=f"ws {k}", plan=_plan(args.steps, flag))
                runtime().wait_idle(30)
            return execution
        return submit(user=user, workspace=workspace, request_text=f"ws {k}", plan=_plan(args.steps, flag))

    execution = await sync_to_async(start)()
    clients = [Client(port, f"/ws/executions/{execution.pk}/", cookie) for _ in range(k)]
    tasks = []
    for batch in range(0, k, 10):  # a page opens at a time, not all in the same instant
        tasks += [asyncio.create_task(client.run()) for client in clients[batch : batch + 10]]
        await asyncio.wait_for(asyncio.gather(*(c.caught_up.wait() for c in clients[batch : batch + 10])), 120)
    failed = [client.error for client in clients if client.error]
    flag.write_text("go")

    def finished() -> Execution:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            current = Execution.objects.get(pk=execution.pk)
            if current.is_finished:
                return current
            time.sleep(0.05)
        raise RuntimeError("run did not finish")

    done = await sync_to_async(finished)()
    await asyncio.sleep(2.0)  # the last events in flight
    for task in tasks:
        task.cancel()
    for client in clients:
        client.read_frames()
    steps = await sync_to_async(
        lambda: {
            number: (started, completed)
            for number, started, completed in ExecutionStep.objects.filter(
                execution_id=execution.pk, step_number__gte=2
            ).values_list("step_number", "started_at", "completed_at")
        }
    )()
    # Every step of a finished run has started and completed.
    first_start = min(started for started, _ in steps.values() if started is not None)
    assert done.completed_at is not None
    run_ms_per_step = (done.completed_at - first_start).total_seconds() * 1000 / len(steps)
    latencies = [
        (client.arrivals[number] - completed.timestamp()) * 1000
        for client in clients
        for number, (_, completed) in steps.items()
        if completed is not None
        if number in client.arrivals
    ]
    missed = [sum(1 for number in steps if number not in client.arrivals) for client in clients]
    run = {
        "mode": mode,
        "clients": k,
        "steps": len(steps),
        "status": done.status,
        "run_ms_per_step": run_ms_per_step,
        "latencies": latencies,
        "missed": missed,
        "bytes_per_step_event": statistics.mean(c.bytes for c in clients) / len(steps) if clients else None,
        "clients_failed": len(failed),
    }
    print(f"[bench ws] {k} clients: {run_ms_per_step:.2f} ms/step, {sum(missed)} missed", file=sys.stderr, flush=True)
    return run


def _combined(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The runs of one K as one row: latencies and misses over all of them, the median run's ms/step."""
    latencies = [latency for run in runs for latency in run["latencies"]]
    missed = [count for run in runs for count in run["missed"]]
    sizes = [run["bytes_per_step_event"] for run in runs if run["bytes_per_step_event"] is not None]
    return {
        "mode": runs[0]["mode"],
        "clients": runs[0]["clients"],
        "steps": runs[0]["steps"],
        "runs": len(runs),
        "statuses": sorted({run["status"] for run in runs}),
        "run_ms_per_step": statistics.median(run["run_ms_per_step"] for run in runs),
        "run_ms_per_step_each": [round(run["run_ms_per_step"], 3) for run in runs],
        "latency_ms_p50": _pct(latencies, 0.5),
        "latency_ms_p95": _pct(latencies, 0.95),
        "latency_ms_max": max(latencies) if latencies else None,
        "missed_per_client_max": max(missed) if missed else 0,
        "missed_total": sum(missed),
        "bytes_per_step_event": statistics.mean(sizes) if sizes else None,
        "clients_failed": sum(run["clients_failed"] for run in runs),
    }


def _pct(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, int(fraction * len(ordered) + 0.999999)) - 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.websockets", description=__doc__.split("\n\n")[0])
    parser.add_argument("--modes", default="embedded", help="embedded,celery")
    parser.add_argument("--clients", default="0,50,200", help="numbers of websocket clients K")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="runs per K; the row shows the median run's ms/step")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/orchestrate_bench_ws")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.clients = [int(k) for k in str(args.clients).split(",")]
    if args.child:
        import json

        print(json.dumps(child(args.child, args)))
        return 0
    import json

    rows: list[dict[str, Any]] = []
    load_before = os.getloadavg()
    for mode in args.modes.split(","):
        tmp = Path(tempfile.mkdtemp(prefix=f"orchestrate-bench-ws-{mode}-"))
        try:
            if mode == "celery":
                from bench.services import recreate_database

                recreate_database(args.database_url)
            argv = [sys.executable, "-m", "bench.websockets", "--child", mode, "--clients"]
            argv += [",".join(map(str, args.clients)), "--steps", str(args.steps), "--workers", str(args.workers)]
            argv += ["--repeat", str(args.repeat)]
            argv += ["--database-url", args.database_url, "--redis-url", args.redis_url]
            out = subprocess.run(argv, cwd=ROOT, env=_environment(mode, tmp, args), stdout=subprocess.PIPE, text=True)
            if out.returncode:
                print(f"{mode}: child exited with {out.returncode}", file=sys.stderr)
                continue
            rows += json.loads(out.stdout.strip().splitlines()[-1])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    base = {row["mode"]: row["run_ms_per_step"] for row in rows if row["clients"] == 0}
    header = f"{'mode':<9} {'K':>4} {'steps':>5} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'missed':>7}"
    print(header + f" {'bytes/event':>11} {'run ms/step':>11} {'x K=0':>6}")
    for row in rows:
        cells = [f"{row['mode']:<9}", f"{row['clients']:>4}", f"{row['steps']:>5}"]
        for key in ("latency_ms_p50", "latency_ms_p95", "latency_ms_max"):
            cells.append(f"{row[key]:>7.1f}" if row[key] is not None else f"{'-':>7}")
        cells.append(f"{row['missed_total']:>7}")
        cells.append(f"{row['bytes_per_step_event']:>11.0f}" if row["bytes_per_step_event"] else f"{'-':>11}")
        cells.append(f"{row['run_ms_per_step']:>11.2f}")
        ratio = row["run_ms_per_step"] / base[row["mode"]] if base.get(row["mode"]) else None
        cells.append(f"{ratio:>6.2f}" if ratio else f"{'-':>6}")
        print(" ".join(cells))
    before, after = (" ".join(f"{x:.2f}" for x in load) for load in (load_before, os.getloadavg()))
    print(f"Load average (1, 5, 15 min) before: {before}; after: {after} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
