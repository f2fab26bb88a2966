"""Per-step overhead of the engine: N no-op steps, chain and fan-out, embedded and Celery, beside bare Celery.

    .venv/bin/python -m bench.engine                       # sizes 10,100,1000, 5 repetitions, every mode
    .venv/bin/python -m bench.engine --sizes 10,100 --repeat 2 --modes embedded,bare --json out.json

Each mode runs in a child process of its own (its settings come from the
environment); see bench/README.md for what is measured and how. This is a
script that prints figures, not a test: nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MODES = ("embedded", "celery", "bare", "dbos-sqlite", "dbos-postgres")
DEFAULT_MODES = MODES
SHAPES = ("chain", "fanout")


def _csv(kind: type, allowed: tuple[str, ...] | None = None) -> Any:
    def parse(text: str) -> list[Any]:
        values = [kind(item.strip()) for item in text.split(",") if item.strip()]
        if not values:
            raise argparse.ArgumentTypeError("give at least one value")
        if allowed is not None and (unknown := [v for v in values if v not in allowed]):
            raise argparse.ArgumentTypeError(f"unknown {unknown}; choose from {', '.join(allowed)}")
        if kind is int and any(v < 1 for v in values):
            raise argparse.ArgumentTypeError("sizes must be positive")
        return values

    return parse


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.engine", description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=_csv(int), default=[10, 100, 1000], help="numbers of no-op steps (N)")
    p.add_argument("--repeat", type=int, default=5, help="measured runs per configuration, after one warm-up")
    p.add_argument("--modes", type=_csv(str, MODES), default=list(DEFAULT_MODES), help=",".join(MODES))
    p.add_argument("--shapes", type=_csv(str, SHAPES), default=list(SHAPES), help="chain,fanout")
    p.add_argument("--workers", type=int, default=2, help="Celery concurrency and embedded worker threads")
    p.add_argument("--json", nargs="?", const="-", metavar="PATH", help="write the figures as JSON (- for stdout)")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds one run may take before it counts as failed")
    p.add_argument(
        "--database-url",
        default="postgres://postgres@127.0.0.1:5432/orchestrate_bench",
        help="PostgreSQL database of the celery mode: dropped and created at the start, dropped at the end",
    )
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/15", help="broker of the celery and bare modes")
    p.add_argument("--join-inputs", action="store_true", help="fan-out join reads every step's output ($step refs)")
    p.add_argument("--top-sql", type=int, default=12, help="statements to list from an untimed embedded run (0: none)")
    p.add_argument("--profile-size", type=int, default=100, help="N of that profiling run (largest size up to it)")
    p.add_argument(
        "--dbos-database-url",
        default="postgres://postgres@127.0.0.1:5432/orchestrate_bench_dbos",
        help="PostgreSQL database of the dbos-postgres peer: created at its start, dropped at its end",
    )
    p.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    p.add_argument("--child-out", help=argparse.SUPPRESS)
    return p


def _child_args(args: argparse.Namespace, mode: str, out: Path) -> list[str]:
    argv = [sys.executable, "-m", "bench.engine", "--child", mode, "--child-out", str(out)]
    argv += ["--sizes", ",".join(map(str, args.sizes)), "--shapes", ",".join(args.shapes)]
    argv += ["--repeat", str(args.repeat), "--workers", str(args.workers), "--timeout", str(args.timeout)]
    argv += ["--database-url", args.database_url, "--redis-url", args.redis_url]
    argv += ["--top-sql", str(args.top_sql), "--profile-size", str(args.profile_size)]
    return argv + (["--join-inputs"] if args.join_inputs else [])


def run_dbos(args: argparse.Namespace, mode: str) -> dict[str, Any]:
    """The DBOS peer, in the bench's own virtual environment (bench/dbos_peer.py)."""
    from bench.dbos_peer import ensure_venv

    started = time.monotonic()
    try:
        python = ensure_venv(ROOT)
    except Exception as exc:
        return {"mode": mode, "configs": [], "error": f"could not make the DBOS environment: {exc}"}
    argv = [str(python), str(ROOT / "bench" / "dbos_peer.py"), "--database", mode.removeprefix("dbos-")]
    argv += ["--database-url", args.dbos_database_url, "--sizes", ",".join(map(str, args.sizes))]
    argv += ["--shapes", ",".join(args.shapes), "--repeat", str(args.repeat)]
    completed = subprocess.run(argv, cwd=ROOT, check=False, stdout=subprocess.PIPE, text=True)
    if completed.returncode != 0:
        return {"mode": mode, "configs": [], "error": f"dbos peer exited with {completed.returncode}"}
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    result["elapsed_s"] = time.monotonic() - started
    return result


def run_mode(args: argparse.Namespace, mode: str) -> dict[str, Any]:
    if mode.startswith("dbos-"):
        return run_dbos(args, mode)
    with tempfile.TemporaryDirectory(prefix="orchestrate-bench-") as tmp:
        out = Path(tmp) / "result.json"
        started = time.monotonic()
        completed = subprocess.run(_child_args(args, mode, out), cwd=ROOT, check=False)
        elapsed = time.monotonic() - started
        if completed.returncode != 0 or not out.exists():
            return {"mode": mode, "configs": [], "error": f"child exited with {completed.returncode}"}
        result = json.loads(out.read_text())
        result["elapsed_s"] = elapsed
        return result


def percentile(values: list[float], fraction: float) -> float:
    """Nearest rank: always a measured value (with 5 runs, p95 is the slowest)."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def figures(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for result in results:
        for config in result["configs"]:
            row = {"mode": result["mode"], **{k: config[k] for k in ("shape", "size", "steps")}}
            totals = config.get("totals_ms") or []
            if totals:
                steps = config["steps"]
                queries = config.get("queries") or []
                commits = config.get("commits") or []
                checkpoint_bytes = config.get("checkpoint_bytes") or []
                row.update(
                    runs=len(totals),
                    total_ms_median=statistics.median(totals),
                    total_ms_p95=percentile(totals, 0.95),
                    ms_per_step_median=statistics.median(totals) / steps,
                    ms_per_step_p95=percentile(totals, 0.95) / steps,
                    queries_per_step=statistics.median(queries) / steps
                    if queries and result["mode"] in ("embedded", "celery")
                    else None,
                    commits_per_step=statistics.median(commits) / steps
                    if commits and result["mode"] in ("embedded", "celery")
                    else None,
                    checkpoint_bytes=statistics.median(checkpoint_bytes) if checkpoint_bytes else None,
                    checkpoint_bytes_per_step=statistics.median(checkpoint_bytes) / steps if checkpoint_bytes else None,
                    totals_ms=totals,
                    queries=queries,
                )
            if "error" in config:
                row["error"] = config["error"]
            rows.append(row)
    bare = {(r["shape"], r["size"]): r for r in rows if r["mode"] == "bare" and "ms_per_step_median" in r}
    dbos = {(r["shape"], r["size"]): r for r in rows if r["mode"] == "dbos-postgres" and "ms_per_step_median" in r}
    for row in rows:
        base = bare.get((row["shape"], row["size"]))
        if row["mode"] == "celery" and base and "ms_per_step_median" in row:
            row["ratio_to_bare"] = row["ms_per_step_median"] / base["ms_per_step_median"]
        peer = dbos.get((row["shape"], row["size"]))
        if row["mode"] in ("embedded", "celery") and peer and "ms_per_step_median" in row:
            row["ratio_to_dbos_pg"] = row["ms_per_step_median"] / peer["ms_per_step_median"]
    return rows


COLUMNS = [
    ("mode", "mode", "<", None),
    ("shape", "shape", "<", None),
    ("size", "N", ">", None),
    ("steps", "steps", ">", None),
    ("total_ms_median", "total ms med", ">", "{:.1f}"),
    ("total_ms_p95", "total ms p95", ">", "{:.1f}"),
    ("ms_per_step_median", "ms/step med", ">", "{:.2f}"),
    ("ms_per_step_p95", "ms/step p95", ">", "{:.2f}"),
    ("queries_per_step", "queries/step", ">", "{:.1f}"),
    ("commits_per_step", "commits/step", ">", "{:.2f}"),
    ("checkpoint_bytes", "ckpt bytes", ">", "{:.0f}"),
    ("checkpoint_bytes_per_step", "ckpt B/step", ">", "{:.0f}"),
    ("ratio_to_bare", "x bare", ">", "{:.1f}"),
    ("ratio_to_dbos_pg", "x dbos-pg", ">", "{:.2f}"),
]


def table(rows: list[dict[str, Any]]) -> str:
    cells = [[title for _, title, _, _ in COLUMNS]]
    for row in rows:
        line = []
        for key, _, _, fmt in COLUMNS:
            value = row.get(key)
            line.append("-" if value is None else fmt.format(value) if fmt else str(value))
        if "error" in row and "total_ms_median" not in row:
            line[4] = f"FAILED: {row['error'][:80]}"
            line[5:] = [""] * (len(COLUMNS) - 5)
        cells.append(line)
    widths = [max(len(line[i]) for line in cells if not line[i].startswith("FAILED")) for i in range(len(COLUMNS))]
    out = []
    for index, line in enumerate(cells):
        parts = [
            cell if cell.startswith("FAILED") else f"{cell:{align}{width}}"
            for cell, width, (_, _, align, _) in zip(line, widths, COLUMNS, strict=True)
        ]
        out.append("  ".join(parts).rstrip())
        if index == 0:
            out.append("  ".join("-" * width for width in widths))
    return "\n".join(out)


_SELECT_LIST = re.compile(r"^SELECT (.{60,}?) FROM ")


def short_sql(sql: str, width: int = 150) -> str:
    """A long column list folded to its count, then cut to width."""
    match = _SELECT_LIST.match(sql)
    if match:
        sql = f"SELECT <{match.group(1).count(', ') + 1} columns> FROM {sql[match.end() :]}"
    return sql if len(sql) <= width else sql[: width - 3] + "..."


def profile_text(profiles: list[dict[str, Any]]) -> str:
    out = []
    for profile in profiles:
        steps = profile["steps"]
        out.append(
            f"\nTop statements by time, embedded {profile['shape']} N={profile['size']} (one untimed run, "
            f"{profile['total_queries'] / steps:.1f} queries and {profile['total_ms'] / steps:.2f} ms of SQL per step):"
        )
        out.append(f"{'per step':>9} {'ms/step':>8}  statement")
        for statement in profile["statements"]:
            sql = short_sql(statement["sql"])
            out.append(f"{statement['count'] / steps:>9.2f} {statement['ms'] / steps:>8.3f}  {sql}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    sys.path.insert(0, str(ROOT))
    if args.child:
        from bench.runner import child_main

        result = child_main(args.child, args)
        Path(args.child_out).write_text(json.dumps(result))
        return 0
    started, load_before = time.monotonic(), os.getloadavg()
    results = [run_mode(args, mode) for mode in args.modes]
    rows = figures(results)
    elapsed = time.monotonic() - started
    summary: dict[str, Any] = {
        "settings": {k: getattr(args, k) for k in ("sizes", "repeat", "modes", "shapes", "workers", "join_inputs")},
        "figures": rows,
        "profiles": [p for r in results for p in r.get("profiles", [])],
        "elapsed_s": {"total": elapsed, **{r["mode"]: r.get("elapsed_s") for r in results}},
        "errors": {r["mode"]: r["error"] for r in results if "error" in r},
        "load_average": {"before": load_before, "after": os.getloadavg()},
    }
    if args.json == "-":
        print(json.dumps(summary, indent=2))
        return 0 if not summary["errors"] else 1
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    print(
        f"\nEngine per-step overhead: {args.repeat} runs after 1 warm-up, {args.workers} workers, "
        f"no-op steps{' (join reads all outputs)' if args.join_inputs else ''}\n"
    )
    print(table(rows))
    print(profile_text(summary["profiles"]))
    for mode, error in summary["errors"].items():
        print(f"\n{mode}: {error}")
    modes = ", ".join(f"{mode} {seconds:.0f}s" for mode, seconds in summary["elapsed_s"].items() if seconds)
    print(f"\nElapsed: {modes}")
    before, after = (" ".join(f"{x:.2f}" for x in summary["load_average"][k]) for k in ("before", "after"))
    print(f"Load average (1, 5, 15 min) before: {before}; after: {after} on {os.cpu_count()} CPUs")
    return 0 if not summary["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
