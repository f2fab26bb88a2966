"""Bare Celery: the same no-op work as the engine benchmark, without the engine.

The app takes its configuration from the project's own settings module (the
CELERY_* names of config/settings.py: broker REDIS_URL, acks late, reject
on worker lost, prefetch 1, JSON, no result backend, default queue
ORCHESTRATE_QUEUE), read as a plain module without setting Django up, so
the durability settings are the engine's by construction. Nothing here
touches the database.

Both shapes start with one `start` task, as an engine run starts with its
planning task:
- chain: each `step` task returns its input value and enqueues the next
  step with it (the value travels in the message, as an engine step's output
  travels through the database to the next step); the last one reports done.
- fanout: `start` enqueues N `fan` tasks; each counts its completion with
  INCR and the Nth completion enqueues the `join`, which reports done.
"Done" is an RPUSH of the time the last task finished, which the driver
waits for with BLPOP (the engine's equivalent is the run's completed_at).
"""

from __future__ import annotations

import os
import time
from typing import Any

from celery import Celery

app = Celery("bench_bare")
app.config_from_object("config.settings", namespace="CELERY")

_client: dict[int, Any] = {}


def redis_client() -> Any:
    """One Redis connection per process (worker processes are forked)."""
    pid = os.getpid()
    if pid not in _client:
        import redis

        _client.clear()
        _client[pid] = redis.Redis.from_url(os.environ["REDIS_URL"])
    return _client[pid]


def done_key(run_id: str) -> str:
    return f"bench:bare:{run_id}:done"


def completed_key(run_id: str) -> str:
    return f"bench:bare:{run_id}:completed"


@app.task(name="bench.bare.start")
def start(run_id: str, shape: str, total: int) -> None:
    if shape == "chain":
        step.apply_async(
            args=(
                run_id,
                1,
                total,
                0,
            )
        )
    else:
        for number in range(1, total + 1):
            fan.apply_async(
                args=(
                    run_id,
                    number,
                    total,
                )
            )


@app.task(name="bench.bare.step")
def step(run_id: str, number: int, total: int, value: Any) -> None:
    output = {"value": value}
    if number < total:
        step.apply_async(args=(run_id, number + 1, total, output["value"]))
    else:
        redis_client().rpush(done_key(run_id), time.time())


@app.task(name="bench.bare.fan")
def fan(run_id: str, number: int, total: int) -> None:
    if redis_client().incr(completed_key(run_id)) == total:
        join.apply_async(
            args=(
                run_id,
                total,
            )
        )


@app.task(name="bench.bare.join")
def join(run_id: str, total: int) -> None:
    redis_client().rpush(done_key(run_id), time.time())
