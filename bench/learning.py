"""A step's cost with learning on and off: learning runs after the run ends, off the step's path.

    .venv/bin/python -m bench.learning                     # chains of 20 no-op steps, 6 blocks of 5 runs
    .venv/bin/python -m bench.learning --steps 50 --blocks 4 --runs 5 --json

Embedded mode on a fresh SQLite database in a temporary directory. Runs go
in blocks of back-to-back runs, alternating learning on / off (so the
learning of one run overlaps the next run's steps, as in production); the
figures per setting are the medians over runs of
  - per step: the run's time (submit to completed_at) divided by its steps,
  - step duration: the steps' own recorded duration_ms,
  - finish: completed_at of the run minus completed_at of its last step
    (the one write learning adds on that path: the feedback row);
then, off the run's path, what the learning job itself takes per run and
what consulting the learned patterns adds to planning. This is a script
that prints figures, not a test: nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.learning", description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=20, help="no-op steps per run (a chain)")
    p.add_argument("--blocks", type=int, default=6, help="blocks per setting (on and off alternate)")
    p.add_argument("--runs", type=int, default=5, help="back-to-back runs per block")
    p.add_argument(
        "--patterns", type=int, default=200, help="learned patterns in the workspace when timing the consult"
    )
    p.add_argument("--workers", type=int, default=2, help="embedded worker threads")
    p.add_argument("--json", action="store_true", help="print the figures as JSON too")
    return p


def _setup(tmp: Path, workers: int) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "ORCHESTRATE_VAR_DIR": str(tmp),
            "MEDIA_ROOT": str(tmp / "media"),
            "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
            "ORCHESTRATE_RUN_MODE": "embedded",
            "ORCHESTRATE_EXTRA_TOOLS": "bench.tools.NoopTool",
            "ORCHESTRATE_WORKERS": str(workers),
            "ORCHESTRATE_EMBEDDED_SWEEPER": "false",
            "ORCHESTRATE_EMBEDDED_SCHEDULER": "false",
            "LOG_LEVEL": "WARNING",
            "DEBUG": "0",
        }
    )
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def _chain(size: int) -> dict[str, Any]:
    steps = [{"number": 1, "tool": "bench.noop", "input": {"value": 0}}]
    steps += [
        {
            "number": n,
            "tool": "bench.noop",
            "input": {"value": {"$step": n - 1, "path": "value"}},
            "depends_on": [n - 1],
        }
        for n in range(2, size + 1)
    ]
    return {"steps": steps}


def _one_run(user: Any, workspace: Any, plan: dict[str, Any]) -> dict[str, Any]:
    from django.db.models import Max

    from orchestration.engine.embedded import runtime
    from orchestration.engine.runs import submit
    from orchestration.models import Execution, ExecutionStatus

    started = time.time()
    execution = submit(user=user, workspace=workspace, request_text="tally the quarterly figures", plan=plan)
    if not runtime().wait_idle(600):
        raise RuntimeError("the run did not finish in 600 s")
    execution = Execution.objects.get(pk=execution.pk)
    if execution.status != ExecutionStatus.SUCCEEDED or execution.completed_at is None:
        raise RuntimeError(f"run {execution.status}: {execution.error}")
    steps = execution.steps.all()
    last_step = steps.aggregate(last=Max("completed_at"))["last"]
    durations = [step.duration_ms or 0 for step in steps]
    return {
        "per_step_ms": (execution.completed_at.timestamp() - started) * 1000 / len(durations),
        "step_duration_ms": statistics.mean(durations),
        "finish_ms": (execution.completed_at - last_step).total_seconds() * 1000,
        "execution_id": str(execution.pk),
    }


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="orchestrate-bench-learning-"))
    try:
        _setup(tmp, args.workers)
        from django.conf import settings
        from django.contrib.auth import get_user_model

        from learning.models import LearnedPattern, PatternType
        from learning.services import jobs
        from learning.services.patterns import learn_from_run, plan_for_request
        from tenancy.models import Workspace, WorkspaceMember

        user = get_user_model().objects.create_user(username="bench", email="bench@example.com")
        workspace = Workspace.objects.create(name="bench")
        WorkspaceMember.objects.create(workspace=workspace, user=user, role="owner")
        plan = _chain(args.steps)
        for _ in range(2):  # warm-up, learning on
            _one_run(user, workspace, plan)
        jobs.wait_idle(600)

        runs: dict[str, list[dict[str, Any]]] = {"on": [], "off": []}
        for block in range(2 * args.blocks):
            setting = "on" if block % 2 == 0 else "off"
            settings.ORCHESTRATE_LEARNING = setting == "on"
            for _ in range(args.runs):
                runs[setting].append(_one_run(user, workspace, plan))
            jobs.wait_idle(600)  # an "off" block starts with nothing learning in the background
            print(f"[bench] block {block + 1}/{2 * args.blocks} (learning {setting}) done", file=sys.stderr)
        settings.ORCHESTRATE_LEARNING = True

        # Off the run's path: the learning job itself, timed on runs already learned from (it is idempotent).
        job_ms = []
        for sample in runs["on"][: min(20, len(runs["on"]))]:
            started = time.perf_counter()
            learn_from_run(str(sample["execution_id"]))
            job_ms.append((time.perf_counter() - started) * 1000)

        # Planning: what consulting the learned patterns adds, with many patterns in the workspace.
        LearnedPattern.objects.bulk_create(
            LearnedPattern(
                workspace=workspace,
                pattern_type=PatternType.REQUEST_PLAN,
                key=f"bench-{n}",
                signature=f"en|analyse|files#{n}",
                description=f"bench pattern {n}",
                plan_template=[],
                confidence=0.9,
            )
            for n in range(args.patterns)
        )
        consult_ms = []
        for n in range(50):
            started = time.perf_counter()
            plan_for_request("tally the quarterly figures", workspace_id=workspace.pk, execution_id=f"bench-{n}")
            consult_ms.append((time.perf_counter() - started) * 1000)

        def median(setting: str, key: str) -> float:
            return round(statistics.median(run[key] for run in runs[setting]), 2)

        figures = {
            "steps_per_run": args.steps,
            "runs_per_setting": len(runs["on"]),
            "on": {key: median("on", key) for key in ("per_step_ms", "step_duration_ms", "finish_ms")},
            "off": {key: median("off", key) for key in ("per_step_ms", "step_duration_ms", "finish_ms")},
            "learning_job_ms_median": round(statistics.median(job_ms), 2),
            "pattern_consult_ms_median": round(statistics.median(consult_ms), 2),
            "patterns_in_workspace": args.patterns,
        }
        print(f"Learning on vs off: {figures['runs_per_setting']} runs each of a chain of {args.steps} no-op steps")
        print(f"{'':24}{'on':>10}{'off':>10}")
        for key, label in (
            ("per_step_ms", "per step (run time / N)"),
            ("step_duration_ms", "step duration_ms"),
            ("finish_ms", "finish (last step->end)"),
        ):
            print(f"{label:24}{figures['on'][key]:>10.2f}{figures['off'][key]:>10.2f}  ms, median")
        print(f"Off the run's path: the learning job takes {figures['learning_job_ms_median']} ms per run (median);")
        print(
            f"consulting the learned patterns adds {figures['pattern_consult_ms_median']} ms to planning "
            f"with {args.patterns} patterns in the workspace (median)."
        )
        if args.json:
            print(json.dumps(figures, indent=2))
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
