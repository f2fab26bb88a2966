"""The people and scripts of the crash suite: submit runs, approve them as they come, report how they ended.

Run as a process of its own (`python -m tests.support.crash_driver setup|drive`)
against the crash suite's private PostgreSQL and Redis, so the test can
restart both under it. Like a person at the console it keeps going when a
service is away for a moment: a failed submit or approval is tried again.

- `setup`: migrate, and create the user `crash` owning the workspace `Crash`.
- `drive RUNS INTERVAL`: submit RUNS runs (a 2-second step, then an e-mail
  to run<N>@example.com with the subject "crash run N"), one every INTERVAL
  seconds; approve every e-mail as soon as it asks; when every run has
  ended, print one JSON object: {"runs": [{"number", "id", "status",
  "error", "submitted_at", "completed_at"}...]} (times as Unix seconds).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import DatabaseError, connection  # noqa: E402

from orchestration.engine.infrastructure import BROKER_ERRORS  # noqa: E402
from orchestration.engine.runs import submit  # noqa: E402
from orchestration.models import FINISHED_STATUSES, Execution  # noqa: E402
from safety.approvals import AlreadyDecided, decide  # noqa: E402
from safety.models import ApprovalStatus, PendingApproval  # noqa: E402
from tenancy.models import Workspace, WorkspaceMember  # noqa: E402
from tenancy.roles import Role  # noqa: E402

DEADLINE_SECONDS = 240
SERVICE_ERRORS: tuple[type[BaseException], ...] = (DatabaseError, *BROKER_ERRORS)


def plan(number: int) -> dict[str, Any]:
    return {
        "steps": [
            {"number": 1, "tool": "test.sleep", "input": {"seconds": 2}},
            {
                "number": 2,
                "tool": "email.send",
                "input": {
                    "to": [f"run{number}@example.com"],
                    "subject": f"crash run {number}",
                    "body": f"Run {number} of the crash suite.\n",
                },
                "depends_on": [1],
            },
        ]
    }


def setup() -> None:
    call_command("migrate", interactive=False, verbosity=0)
    user, _ = get_user_model().objects.get_or_create(username="crash")
    workspace, _ = Workspace.objects.get_or_create(name="Crash")
    WorkspaceMember.objects.get_or_create(workspace=workspace, user=user, defaults={"role": Role.OWNER})


def _retrying(action: Any) -> Any:
    """Do it, trying again while the database or the broker is away."""
    while True:
        try:
            return action()
        except SERVICE_ERRORS as exc:
            print(f"driver: {type(exc).__name__}: {exc}; trying again", file=sys.stderr, flush=True)
            connection.close()
            time.sleep(0.5)


def drive(runs: int, interval: float) -> None:
    user = get_user_model().objects.get(username="crash")
    workspace = Workspace.objects.get(name="Crash")
    submitted: dict[int, tuple[str, float]] = {}
    next_submit = time.monotonic()
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if len(submitted) < runs and time.monotonic() >= next_submit:
            number = len(submitted) + 1
            execution = _retrying(
                lambda number=number: submit(
                    user=user, workspace=workspace, request_text=f"crash run {number}", plan=plan(number)
                )
            )
            submitted[number] = (str(execution.pk), time.time())
            next_submit += interval
        _retrying(lambda: _approve_waiting(user))
        if len(submitted) == runs and _retrying(lambda: _all_finished([pk for pk, _ in submitted.values()])):
            break
        time.sleep(0.2)
    report = _retrying(lambda: _report(submitted))
    print(json.dumps(report), flush=True)


def _approve_waiting(user: Any) -> None:
    for approval in PendingApproval.objects.filter(status=ApprovalStatus.PENDING):
        with contextlib.suppress(AlreadyDecided):
            decide(approval, user, approve=True, comment="crash suite")


def _all_finished(ids: list[str]) -> bool:
    return Execution.objects.filter(pk__in=ids, status__in=FINISHED_STATUSES).count() == len(ids)


def _report(submitted: dict[int, tuple[str, float]]) -> dict[str, Any]:
    runs = []
    for number, (pk, submitted_at) in sorted(submitted.items()):
        execution = Execution.objects.get(pk=pk)
        runs.append(
            {
                "number": number,
                "id": pk,
                "status": execution.status,
                "error": execution.error,
                "submitted_at": submitted_at,
                "completed_at": execution.completed_at.timestamp() if execution.completed_at else None,
            }
        )
    return {"runs": runs}


if __name__ == "__main__":
    if sys.argv[1] == "setup":
        setup()
    else:
        drive(int(sys.argv[2]), float(sys.argv[3]))
