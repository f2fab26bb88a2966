from __future__ import annotations

import json
import sys
import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser

from orchestration.engine.recovery import sweep
from orchestration.engine.runs import submit
from orchestration.models import Execution, ExecutionStatus
from orchestration.planning import PlanInvalid
from tenancy.models import Workspace

BAR_WIDTH = 24


def run_summary(execution: Execution) -> dict[str, Any]:
    return {
        "id": str(execution.pk),
        "status": execution.status,
        "error": execution.error or None,
        "result": execution.result,
        "steps": [
            {
                "number": step.step_number,
                "agent": step.agent_id,
                "tool": step.tool,
                "status": step.status,
                "cached": step.cached,
                "duration_ms": step.duration_ms,
                "tokens_used": step.tokens_used,
                **({"error": step.error} if step.error else {}),
            }
            for step in execution.steps.order_by("step_number")
        ],
    }


class Command(BaseCommand):
    help = "Submit a request to run in a workspace, as a user; optionally wait for it to finish."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("request", help="What to do, in plain words")
        parser.add_argument("--workspace", required=True, help="Workspace name")
        parser.add_argument("--user", required=True, help="Username to run as")
        parser.add_argument("--wait", action="store_true", help="Show progress until the run ends")
        parser.add_argument("--json", action="store_true", help="Print one JSON object describing the run")
        parser.add_argument("--timeout", type=float, default=3600, help="Seconds to wait at most (default 3600)")

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = Workspace.objects.filter(name=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace named {options['workspace']!r}.")
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"No user named {options['user']!r}.")
        try:
            execution = submit(user=user, workspace=workspace, request_text=options["request"])
        except (PermissionDenied, PlanInvalid, ValueError) as exc:
            raise CommandError(str(exc)) from None
        if not options["json"]:
            queued = "" if execution.dispatched else " (queued: the workers cannot be reached yet)"
            self.stderr.write(f"Submitted {execution.pk}{queued}")
        # In the embedded mode this process is the worker: leaving early would leave the run behind.
        if options["wait"] or settings.ORCHESTRATE_RUN_MODE == "embedded":
            execution = self._wait(execution, options["timeout"], show_progress=options["wait"])
        if options["json"]:
            self.stdout.write(json.dumps(run_summary(execution), default=str))
        else:
            self._print_outcome(execution)
        if execution.is_finished and execution.status != ExecutionStatus.SUCCEEDED:
            sys.exit(1)
        if options["wait"] and not execution.is_finished:
            sys.exit(2)

    def _wait(self, execution: Execution, timeout: float, *, show_progress: bool) -> Execution:
        deadline = time.monotonic() + timeout
        last_line = ""
        next_sweep = time.monotonic() + settings.ORCHESTRATE_SWEEP_SECONDS
        while True:
            if settings.ORCHESTRATE_RUN_MODE == "embedded" and time.monotonic() >= next_sweep:
                # This process is the run's worker: pick up what an approval decided from another
                # terminal left ready, and what a dead worker left behind, as the server would.
                sweep(execution_id=execution.pk)
                next_sweep = time.monotonic() + settings.ORCHESTRATE_SWEEP_SECONDS
            execution.refresh_from_db()
            if show_progress:
                line = self._progress_line(execution)
                if line != last_line:
                    self.stderr.write(
                        ("\r" if self.stderr.isatty() else "") + line, ending="" if self.stderr.isatty() else "\n"
                    )
                    last_line = line
            # A run that asks a question waits for a person: say so rather than wait for the timeout.
            waiting_for_answer = execution.status == ExecutionStatus.WAITING_INPUT
            if execution.is_finished or waiting_for_answer or time.monotonic() > deadline:
                if show_progress and self.stderr.isatty():
                    self.stderr.write("")
                return execution
            time.sleep(0.2)

    def _progress_line(self, execution: Execution) -> str:
        total = execution.total_steps
        done = execution.current_step
        filled = int(BAR_WIDTH * done / total) if total else 0
        active = ", ".join(
            f"{step.tool} {step.status}"
            for step in execution.steps.exclude(status__in=["pending", "succeeded", "skipped"])
        )
        return f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total or '?'} {execution.status}" + (
            f" ({active})" if active else ""
        )

    def _print_outcome(self, execution: Execution) -> None:
        self.stdout.write(f"{execution.pk} {execution.status}")
        if execution.status == ExecutionStatus.WAITING_INPUT and isinstance(execution.question, dict):
            self.stdout.write(f"Question: {execution.question.get('text', '')}")
            for candidate in execution.question.get("candidates", []):
                self.stdout.write(f"  - {candidate}")
            self.stdout.write(f"Answer it in the console: /orchestrate/executions/{execution.pk}/")
        for step in execution.steps.order_by("step_number"):
            cached = " cached" if step.cached else ""
            self.stdout.write(
                f"  {step.step_number}. {step.agent_id}/{step.tool}: {step.status}{cached} ({step.duration_ms or 0} ms)"
            )
        if execution.error:
            self.stdout.write(f"Error: {execution.error}")
