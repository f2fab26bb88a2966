"""DBOS Transact doing the engine benchmark's no-op chain and fan-out (a peer, not part of the project).

Run by bench/engine.py with the Python of a virtual environment the bench
makes for itself (`var/bench-dbos/`, `dbos` from PyPI: see `ensure_venv`),
never with the project's own: DBOS is not a dependency of Orchestrate.
This file imports nothing of the project so that it runs there.

    var/bench-dbos/bin/python bench/dbos_peer.py --database sqlite --sizes 100 --shapes chain --repeat 3

- chain: one workflow runs N steps one after the other, each returning its
  input's value (step n takes step n-1's output), every step's result
  recorded by DBOS before the next starts;
- fanout: one workflow starts N child workflows of one step each, waits for
  all of them, then runs a join step: N+1 steps.

SQLite runs with the project's SQLite settings (WAL, synchronous NORMAL);
PostgreSQL is a scratch database dropped at the end. The time is from
starting the workflow to its result; it prints JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DBOS_VERSION = "3.4.0"


def ensure_venv(root: Path) -> Path:
    """The Python of the bench's own DBOS environment, created (once) under var/."""
    venv = root / "var" / "bench-dbos"
    python = venv / "bin" / "python"
    if not python.exists() or subprocess.run([python, "-c", "import dbos"], capture_output=True).returncode:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", f"dbos=={DBOS_VERSION}"], check=True)
    return python


def _engine(database: str, database_url: str, tmp: Path) -> Any:
    import sqlalchemy as sa
    from sqlalchemy import event

    if database == "sqlite":
        engine = sa.create_engine(f"sqlite:///{tmp / 'dbos.sqlite3'}")

        @event.listens_for(engine, "connect")
        def _pragmas(connection: Any, record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return sa.create_engine(database_url.replace("postgres://", "postgresql+psycopg://", 1))


def _recreate(database_url: str, drop_only: bool = False) -> None:
    import psycopg

    head, _, name = database_url.rpartition("/")
    admin = head.replace("postgres://", "postgresql://", 1) + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            connection.execute(f'CREATE DATABASE "{name}"')


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", choices=["sqlite", "postgres"], required=True)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/orchestrate_bench_dbos")
    parser.add_argument("--sizes", default="100")
    parser.add_argument("--shapes", default="chain,fanout")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="orchestrate-bench-dbos-"))
    if args.database == "postgres":
        _recreate(args.database_url)
    os.environ.setdefault("DBOS__DISABLE_TELEMETRY", "1")
    from dbos import DBOS, DBOSConfig

    config: DBOSConfig = {
        "name": "orchestrate-bench",
        "system_database_engine": _engine(args.database, args.database_url, tmp),
        "system_database_url": "sqlite:///" + str(tmp / "dbos.sqlite3")
        if args.database == "sqlite"
        else args.database_url,
        "log_level": "WARNING",
    }
    DBOS(config=config)

    @DBOS.step()
    def noop(value: Any) -> Any:
        return {"value": value}["value"]

    @DBOS.workflow()
    def chain(size: int) -> Any:
        value: Any = 0
        for _ in range(size):
            value = noop(value)
        return value

    @DBOS.workflow()
    def leaf(number: int) -> Any:
        return noop(number)

    @DBOS.workflow()
    def fanout(size: int) -> Any:
        handles = [DBOS.start_workflow(leaf, number) for number in range(1, size + 1)]
        values = [handle.get_result() for handle in handles]
        return noop(len(values))

    DBOS.launch()
    results = []
    try:
        for shape in args.shapes.split(","):
            for size in [int(s) for s in args.sizes.split(",")]:
                workflow = chain if shape == "chain" else fanout
                steps = size if shape == "chain" else size + 1
                totals = []
                for index in range(args.repeat + 1):
                    started = time.perf_counter()
                    workflow(size)
                    elapsed = (time.perf_counter() - started) * 1000
                    print(f"[dbos {args.database}] {shape} N={size} run {index}: {elapsed:.0f} ms", file=sys.stderr)
                    if index:
                        totals.append(elapsed)
                results.append(
                    {
                        "shape": shape,
                        "size": size,
                        "steps": steps,
                        "totals_ms": totals,
                        "ms_per_step_median": statistics.median(totals) / steps,
                    }
                )
    finally:
        DBOS.destroy()
        if args.database == "postgres":
            _recreate(args.database_url, drop_only=True)
    print(json.dumps({"mode": f"dbos-{args.database}", "configs": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
