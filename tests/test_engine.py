"""The engine end to end: plan, run, share, checkpoint, cache, retry, cancel.

These run in the embedded mode on the default pass and through a real
Celery worker when the suite runs with REDIS_URL (see tests/support/engine.py).
"""

from __future__ import annotations

import csv
import io
from itertools import pairwise
from statistics import mean

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext

from caching.models import CacheEntry
from learning.models import ExecutionFeedback
from monitoring.models import Metric, Trace
from orchestration.engine.runs import cancel, plan_execution, submit
from orchestration.models import AgentMessage, Execution, ExecutionStatus, MessageType, SharedContext, StepStatus
from orchestration.planning import PlanInvalid
from orchestration.planning.schema import validate_plan
from persistence.checkpoints import rebuild_state
from persistence.models import ExecutionCheckpoint
from tests.support.engine import wait_for, wait_for_log, wait_for_rows
from tests.support.tools import effect_count
from tools.drive import WorkspaceDrive
from versioning.models import PlanVersion

pytestmark = pytest.mark.usefixtures("engine")

SPEC_REQUEST = "summarise the sales CSV files and write a report"
Q1 = [("region", "revenue", "units"), ("north", "1200.50", "10"), ("south", "800", "7"), ("east", "", "3")]
Q2 = [("region", "revenue", "units"), ("north", "1500", "12"), ("west", "950.25", "9")]


def _csv(rows) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


@pytest.fixture
def sales_drive(workspace_a):
    drive = WorkspaceDrive(workspace_a.pk)
    drive.write_text("sales_q1.csv", _csv(Q1))
    drive.write_text("data/sales_q2.csv", _csv(Q2))
    drive.write_text("notes.txt", "not a sales file")
    return drive


def _plan(*steps):
    return {"steps": [{"number": n, **step} for n, step in enumerate(steps, start=1)]}


def test_it_runs_the_spec_example_end_to_end(alice, workspace_a, sales_drive):
    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text=SPEC_REQUEST))

    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    steps = list(execution.steps.order_by("step_number"))
    assert [(s.agent_id, s.tool) for s in steps] == [
        ("drive", "drive.search"),
        ("analysis", "analysis.describe"),
        ("report", "report.compose"),
    ]
    assert all(s.status == StepStatus.SUCCEEDED and s.duration_ms is not None for s in steps)
    assert execution.current_step == execution.total_steps == 3
    assert execution.completed_at is not None
    assert {f["name"] for f in steps[0].output["files"]} == {"sales_q1.csv", "data/sales_q2.csv"}

    report = sales_drive.read_text(steps[2].output["path"])
    q1_revenue = [1200.50, 800.0]
    assert f"{mean(q1_revenue):g}" in report or f"{mean(q1_revenue):.2f}" in report
    assert "sales_q1.csv" in report
    assert "sales_q2.csv" in report
    assert "950.25" in report  # the largest west figure is the q2 minimum revenue

    assert PlanVersion.objects.get(plan=execution, version=1).plan_data["steps"][0]["tool"] == "drive.search"
    assert execution.plan["planner"] == "rules"
    assert SharedContext.objects.filter(execution=execution, created_by="drive", key="files.found").exists()
    kinds = list(AgentMessage.objects.filter(execution=execution).values_list("message_type", flat=True))
    assert kinds.count(MessageType.REQUEST) == 3
    assert kinds.count(MessageType.RESPONSE) == 3
    assert kinds.count(MessageType.NOTIFICATION) == 2
    assert all(m.in_reply_to_id for m in AgentMessage.objects.filter(execution=execution, message_type="RESPONSE"))
    assert ExecutionCheckpoint.objects.filter(execution=execution).count() >= 4
    spans = Trace.objects.filter(execution=execution)
    root = spans.get(parent_span__isnull=True)
    assert root.status == "ok"
    assert root.ended_at is not None
    step_spans = spans.filter(parent_span=root, name__startswith="step ")
    wait_for_rows(step_spans.count, 3)
    assert step_spans.count() == 3
    wait_for_rows(Metric.objects.filter(metric_name="step.duration_ms").count, 3)
    assert Metric.objects.filter(metric_name="execution.duration_ms").exists()
    wait_for_log(execution, "succeeded")
    feedback = ExecutionFeedback.objects.get(execution=execution)
    assert feedback.success
    assert feedback.steps_count == 3
    assert feedback.patterns == ["drive -> analysis -> report"]


def test_it_answers_a_repeated_request_from_the_cache(alice, workspace_a, sales_drive):
    first = wait_for(submit(user=alice, workspace=workspace_a, request_text=SPEC_REQUEST))
    second = wait_for(submit(user=alice, workspace=workspace_a, request_text=SPEC_REQUEST))

    assert first.status == second.status == ExecutionStatus.SUCCEEDED
    assert [s.cached for s in first.steps.order_by("step_number")] == [False, False, False]
    assert [s.cached for s in second.steps.order_by("step_number")] == [False, True, False]
    entry = CacheEntry.objects.get()
    assert entry.hit_count == 1
    assert entry.last_hit_at is not None
    wait_for_rows(Metric.objects.filter(metric_name="cache.hit").count, 1)
    assert Metric.objects.filter(metric_name="cache.hit").count() == 1


def test_it_does_not_answer_from_the_cache_once_a_file_changed(alice, workspace_a, sales_drive):
    wait_for(submit(user=alice, workspace=workspace_a, request_text=SPEC_REQUEST))
    sales_drive.write_text("sales_q1.csv", _csv([*Q1, ("north", "5", "1")]))
    again = wait_for(submit(user=alice, workspace=workspace_a, request_text=SPEC_REQUEST))
    assert again.steps.get(step_number=2).cached is False


def test_it_fails_a_request_no_tool_can_serve_with_a_clear_error(alice, workspace_a):
    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text="make me a sandwich"))
    assert execution.status == ExecutionStatus.FAILED
    assert "No tool can serve this request" in execution.error
    assert execution.total_steps == 0


def test_it_refuses_an_empty_request_and_a_viewer(victor, alice, workspace_a):

    with pytest.raises(ValueError, match="Type a request"):
        submit(user=alice, workspace=workspace_a, request_text="   ")
    with pytest.raises(PermissionDenied):
        submit(user=victor, workspace=workspace_a, request_text=SPEC_REQUEST)


def test_it_refuses_an_invalid_plan_before_creating_a_run(alice, workspace_a):
    with pytest.raises(PlanInvalid, match="unknown tool"):
        submit(user=alice, workspace=workspace_a, request_text="x", plan=_plan({"tool": "nope.nothing"}))
    with pytest.raises(PlanInvalid, match="may depend only on earlier"):
        submit(
            user=alice, workspace=workspace_a, request_text="x", plan=_plan({"tool": "test.noop", "depends_on": [1]})
        )
    assert not workspace_a.executions.exists()


def test_it_runs_independent_steps_in_parallel_then_joins(alice, workspace_a):
    plan = _plan(
        {"tool": "test.sleep", "input": {"seconds": 0.6}},
        {"tool": "test.sleep", "input": {"seconds": 0.6}},
        {"tool": "test.sleep", "input": {"seconds": 0.6}},
        {"tool": "test.noop", "input": {"value": [{"$step": 1}, {"$step": 2}]}, "depends_on": [1, 2, 3]},
    )
    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text="parallel", plan=plan))
    assert execution.status == ExecutionStatus.SUCCEEDED
    sleeps = list(execution.steps.filter(step_number__lte=3))
    overlapping = sum(
        1
        for a in sleeps
        for b in sleeps
        if a.pk < b.pk and a.started_at < b.completed_at and b.started_at < a.completed_at
    )
    assert overlapping >= 1
    join = execution.steps.get(step_number=4)
    assert join.started_at >= max(s.completed_at for s in sleeps)
    assert join.output == {"value": [{"cancelled": False}, {"cancelled": False}]}


@pytest.mark.parametrize("continue_seconds", [0.0, 60.0])
def test_it_runs_a_wide_fan_out_of_quick_steps_once_each_in_batches_or_one_by_one(
    alice, workspace_a, settings, continue_seconds
):
    # 40 quick steps made ready at once go to the workers in batches (dispatch.send_steps); with no
    # time to go on (0), each batch is sent on one step per message. Either way each runs once.
    # (The setting is the embedded pass's; the celery pass's session worker keeps its own, 2 s.)
    settings.ORCHESTRATE_CONTINUE_SECONDS = continue_seconds
    plan = _plan(
        {"tool": "test.noop", "input": {"value": 0}},
        *({"tool": "test.noop", "input": {"value": {"$step": 1}}, "depends_on": [1]} for _ in range(40)),
        {"tool": "test.noop", "input": {"value": [{"$step": 2}, {"$step": 41}]}, "depends_on": list(range(2, 42))},
    )
    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text="fan out", plan=plan))
    assert execution.status == ExecutionStatus.SUCCEEDED
    steps = list(execution.steps.order_by("step_number"))
    assert [step.attempts for step in steps] == [1] * 42
    assert all(step.started_at >= steps[0].completed_at for step in steps[1:41])
    assert steps[-1].started_at >= max(step.completed_at for step in steps[1:41])
    assert steps[-1].output == {"value": [{"value": {"value": 0}}] * 2}
    requests = AgentMessage.objects.filter(execution=execution, message_type=MessageType.REQUEST).count()
    assert requests == 42  # one attempt each, none repeated


@pytest.mark.parametrize("continue_seconds", [0.0, 60.0])
def test_it_runs_a_chain_in_order_whether_its_worker_goes_on_or_sends_each_step(
    alice, workspace_a, settings, continue_seconds
):
    # 0: every step made ready goes through the transport; 60: the worker runs the chain itself.
    # (The embedded pass; the celery pass's session worker keeps its own setting, 2 s.)
    settings.ORCHESTRATE_CONTINUE_SECONDS = continue_seconds
    plan = _plan(
        {"tool": "test.noop", "input": {"value": 1}},
        *({"tool": "test.noop", "input": {"value": {"$step": n}}, "depends_on": [n]} for n in range(1, 12)),
    )
    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text="chain", plan=plan))
    assert execution.status == ExecutionStatus.SUCCEEDED
    steps = list(execution.steps.order_by("step_number"))
    assert [step.attempts for step in steps] == [1] * 12
    assert all(later.started_at >= earlier.completed_at for earlier, later in pairwise(steps))
    expected: object = 1
    for _ in steps:
        expected = {"value": expected}
    assert steps[-1].output == expected  # each step's output reached the next one


def test_it_passes_outputs_and_shared_context_between_steps(alice, workspace_a):
    plan = _plan(
        {"tool": "test.effect", "input": {"label": "first"}},
        {
            "tool": "test.noop",
            "input": {"value": {"label": {"$step": 1, "path": "label"}, "shared": {"$context": "effect.first"}}},
            "depends_on": [1],
        },
    )
    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text="chain", plan=plan))
    assert execution.steps.get(step_number=2).output == {"value": {"label": "first", "shared": "done"}}


def test_it_retries_a_retryable_failure_with_backoff(alice, workspace_a):
    plan = _plan({"tool": "test.flaky", "input": {"failures": 2}})
    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text="flaky", plan=plan))
    step = execution.steps.get()
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert step.attempts == 3
    assert step.output == {"attempts": 3}
    statuses = list(
        AgentMessage.objects.filter(execution=execution, message_type="RESPONSE").values_list(
            "payload__status", flat=True
        )
    )
    assert statuses.count("retrying") == 2


def test_it_gives_up_after_the_last_attempt(alice, workspace_a):
    plan = _plan(
        {"tool": "test.flaky", "input": {"failures": 9}, "max_attempts": 2}, {"tool": "test.noop", "depends_on": [1]}
    )
    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text="flaky", plan=plan))
    first, second = execution.steps.order_by("step_number")
    assert execution.status == ExecutionStatus.FAILED
    assert "gave up after 2 attempts" in first.error
    assert second.status == StepStatus.SKIPPED
    assert execution.error.startswith("Step 1 (test.flaky) failed")
    assert execution.current_step == 2


def test_it_goes_on_when_an_optional_step_fails(alice, workspace_a):
    plan = _plan(
        {"tool": "test.flaky", "input": {"failures": 9}, "max_attempts": 1, "optional": True},
        {"tool": "test.noop", "input": {"value": 1}},
        {"tool": "test.noop", "input": {"value": {"$step": 1}}, "depends_on": [1]},
    )
    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text="optional", plan=plan))
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert [s.status for s in execution.steps.order_by("step_number")] == ["failed", "succeeded", "skipped"]


def test_it_times_out_a_step_that_runs_too_long(alice, workspace_a):
    plan = _plan({"tool": "test.sleep", "input": {"seconds": 5}, "timeout_seconds": 0.3, "max_attempts": 1})
    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text="slow", plan=plan))
    assert execution.status == ExecutionStatus.FAILED
    assert "did not finish within 0.3 seconds" in execution.steps.get().error


def test_it_cancels_a_running_run(alice, workspace_a):
    plan = _plan({"tool": "test.sleep", "input": {"seconds": 20}}, {"tool": "test.noop", "depends_on": [1]})
    execution = submit(user=alice, workspace=workspace_a, request_text="long", plan=plan)
    wait_for(execution, statuses={ExecutionStatus.RUNNING})
    _wait_step_status(execution, 1, StepStatus.RUNNING)
    assert cancel(execution, alice) is True
    assert cancel(execution, alice) is False
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.CANCELLED
    assert execution.steps.get(step_number=2).status == StepStatus.SKIPPED
    sleeper = _wait_step_status(execution, 1, StepStatus.SUCCEEDED, timeout=10)
    assert sleeper.output == {"cancelled": True}


def test_it_keeps_large_outputs_in_storage_and_resolves_them(alice, workspace_a, settings):
    big = "x" * 100_000
    plan = _plan(
        {"tool": "test.noop", "input": {"value": big}},
        {"tool": "test.noop", "input": {"value": {"$step": 1, "path": "value"}}, "depends_on": [1]},
    )
    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text="big", plan=plan))
    first, second = execution.steps.order_by("step_number")
    assert first.output["$stored"].startswith(f"outputs/{workspace_a.pk}/{execution.pk}/")
    assert first.output["bytes"] > 100_000
    assert second.output["$stored"]
    from orchestration.engine.outputs import load_output

    assert load_output(second.output, execution_id=second.execution_id, step_number=2) == {"value": big}


def test_it_runs_a_step_once_when_its_message_arrives_twice(alice, workspace_a):
    from orchestration.engine.dispatch import enqueue_steps

    plan = _plan({"tool": "test.effect", "input": {"label": "twice", "seconds": 0.5}})
    execution = submit(user=alice, workspace=workspace_a, request_text="dup", plan=plan)
    wait_for(execution, statuses={ExecutionStatus.RUNNING})
    step = _wait_step_status(execution, 1, StepStatus.RUNNING)
    enqueue_steps([step.pk, step.pk])
    execution = wait_for(execution)
    step.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert step.attempts == 1
    assert effect_count(WorkspaceDrive(workspace_a.pk)) == 1


def _wait_step_status(execution, number, status, timeout=10.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        step = execution.steps.get(step_number=number)
        if step.status == status:
            return step
        time.sleep(0.05)
    raise AssertionError(f"step {number} is {step.status}, not {status}")


def test_it_resumes_a_failed_run_keeping_what_succeeded(alice, workspace_a):
    from orchestration.engine.runs import resume_run

    plan = _plan(
        {"tool": "test.effect", "input": {"label": "kept"}},
        {"tool": "test.flaky", "input": {"failures": 1}, "max_attempts": 1, "depends_on": [1]},
        {"tool": "test.noop", "input": {"value": {"$step": 2}}, "depends_on": [2]},
    )
    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text="resume", plan=plan))
    assert execution.status == ExecutionStatus.FAILED
    assert resume_run(execution, alice) == 2
    execution = wait_for(execution)
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert [s.status for s in execution.steps.order_by("step_number")] == ["succeeded"] * 3
    assert execution.steps.get(step_number=1).attempts == 1
    assert execution.steps.get(step_number=3).output == {"value": {"attempts": 2}}
    assert effect_count(WorkspaceDrive(workspace_a.pk)) == 1
    assert resume_run(execution, alice) == 0


def test_it_checkpoints_what_each_step_changed_and_rebuilds_the_run_from_them(alice, workspace_a):
    plan = _plan(*[{"tool": "test.noop", "input": {"value": n}} for n in range(1, 6)])
    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text="checkpoints", plan=plan))

    checkpoints = list(ExecutionCheckpoint.objects.filter(execution=execution).order_by("checkpoint_number"))
    assert [c.checkpoint_number for c in checkpoints] == list(range(1, len(checkpoints) + 1))
    step_ends = [c for c in checkpoints if c.state["reason"].startswith("step ")]
    # One line per step, whatever the size of the run: a step's checkpoint names that step only.
    assert sorted(next(iter(c.state["steps"])) for c in step_ends) == ["1", "2", "3", "4", "5"]
    assert all(len(c.state["steps"]) == 1 for c in step_ends)

    state = rebuild_state(execution.pk)
    assert state["status"] == ExecutionStatus.SUCCEEDED
    assert {number: entry["status"] for number, entry in state["steps"].items()} == {
        str(n): StepStatus.SUCCEEDED for n in range(1, 6)
    }
    assert state["current_step"] == state["total_steps"] == 5


def test_it_plans_a_run_in_the_same_few_statements_whatever_its_size(alice, workspace_a):
    """Planning writes the steps, plan version, spans and first checkpoint once each and reads nothing back."""
    statements = []
    # Up to 38 steps: SQLite takes a plan's steps in inserts of 999 parameters at most (38 rows).
    for size in (3, 38):
        steps = [{"tool": "test.noop", "input": {"value": n}} for n in range(size)]
        plan = validate_plan(_plan(*steps), planner="given", workspace=workspace_a)
        execution = Execution.objects.create(user=alice, workspace=workspace_a, request=f"{size} steps", plan=plan)
        with CaptureQueriesContext(connection) as queries:
            plan_execution(str(execution.pk))
        execution = wait_for(execution)
        # Transaction control aside; a prepared statement is logged without its text (PostgreSQL).
        texts = [query["sql"] or "?" for query in queries]
        statements.append([sql for sql in texts if not sql.startswith(("BEGIN", "COMMIT"))])
        assert execution.status == ExecutionStatus.SUCCEEDED
        assert execution.steps.filter(queued_at__isnull=False).count() == size  # each step was sent
        planned = ExecutionCheckpoint.objects.filter(execution=execution).order_by("checkpoint_number").first()
        assert planned.state["reason"] == "planned"
        assert len(planned.state["steps"]) == size
    assert len(statements[0]) == len(statements[1]) <= 11, statements[1]
