"""The learning loop end to end, through the real engine: patterns that plan, A/B tests that promote.

The workload is scripted: `test.odds` succeeds on exactly the given share of
its calls per label, so a plan variant's success rate is known in advance
and the test's numbers are exact.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from learning.models import ExecutionFeedback, LearnedPattern, PatternType
from learning.services import prompts
from learning.services.abtests import start_test
from learning.services.feedback import rate_run
from orchestration.agents import current_prompt
from orchestration.engine.runs import plan_execution, replace_planned_steps, run_planned, submit
from orchestration.models import Execution, ExecutionStatus
from tenancy.roles import Role
from tests.factories.tenancy import MemberFactory, UserFactory
from tests.support.engine import wait_for
from tests.support.polling import eventually
from tools.drive import WorkspaceDrive
from versioning.models import ABTest, ABTestStatus
from versioning.services import edit_plan, outcomes, rerun_plan, versions_of

pytestmark = pytest.mark.usefixtures("engine")

TALLY = "tally the quarterly figures"


def _odds(label: str, percent: int) -> list[dict[str, Any]]:
    return [{"number": 1, "tool": "test.odds", "input": {"label": label, "percent": percent}, "max_attempts": 1}]


def learned_run(user, workspace, request_text: str, plan: dict[str, Any] | None = None) -> Execution:
    """Submit, wait for the end, and wait until the learning job has read the run."""
    execution = wait_for(submit(user=user, workspace=workspace, request_text=request_text, plan=plan))
    eventually(
        lambda: ExecutionFeedback.objects.filter(execution=execution, learned_at__isnull=False).exists(),
        what=f"learning to read run {execution.pk}",
        timeout=30,
    )
    return execution


def _rate(runs: list[Execution]) -> float:
    return sum(run.status == ExecutionStatus.SUCCEEDED for run in runs) / len(runs)


def test_it_promotes_the_plan_that_succeeds_more_often_and_later_runs_succeed_more(alice, workspace_a):
    # Before: the team runs the request with plan A, which succeeds 30% of the time.
    before = [learned_run(alice, workspace_a, TALLY, {"steps": _odds("a", 30)}) for _ in range(10)]
    assert _rate(before) == 0.3

    # Alice edits the plan of one of those runs into a candidate, and tests it against the original.
    first = before[0]
    candidate = edit_plan(alice, first, _odds("b", 90), note="a steadier way")
    original = versions_of(first).get(version=1)
    test = start_test(
        alice,
        workspace_a,
        name="tally plans",
        variant_a=f"version:{original.pk}",
        variant_b=f"version:{candidate.pk}",
        traffic_split=0.5,
        min_sample=10,
    )
    during: list[Execution] = []
    while ABTest.objects.get(pk=test.pk).status == ABTestStatus.RUNNING and len(during) < 80:
        run = learned_run(alice, workspace_a, TALLY)
        assert run.plan["planner"] == "ab_test"
        assert run.plan["ab_test"]["id"] == str(test.pk)
        during.append(run)

    test.refresh_from_db()
    results = test.results
    assert test.status == ABTestStatus.COMPLETED, results
    assert test.winner == "B"
    assert results["A"]["runs"] >= 10
    assert results["B"]["runs"] >= 10
    assert results["A"]["success_rate"] <= 0.35
    assert results["B"]["success_rate"] >= 0.8  # 9 of 11 at worst: B fails its 1st and 11th call
    assert results["p_value"] < 0.05
    assert "B (Plan v2" in results["verdict"]
    assert {run.plan["ab_test"]["variant"] for run in during} == {"A", "B"}

    # After: the promoted plan plans the request, and runs succeed far more often than before.
    after = [learned_run(alice, workspace_a, TALLY) for _ in range(10)]
    assert {run.plan["planner"] for run in after} == {"pattern"}
    promoted = LearnedPattern.objects.get(pk=after[0].plan["pattern"]["id"])
    assert promoted.promoted
    assert promoted.enabled
    assert after[0].plan["steps"][0]["input"] == {"label": "b", "percent": 90}
    assert _rate(after) >= 0.8 > _rate(before) + 0.4
    loser = LearnedPattern.objects.get(workspace=workspace_a, signature=promoted.signature, plan_template=_template_a())
    assert not loser.enabled


def _template_a() -> list[dict[str, Any]]:
    return [
        {
            "number": 1,
            "tool": "test.odds",
            "input": {"label": "a", "percent": 30},
            "depends_on": [],
            "optional": False,
            "max_attempts": 1,
            "description": "",
        }
    ]


def test_it_plans_from_a_mined_pattern_and_stops_when_its_runs_fail(alice, workspace_a, settings):
    settings.ORCHESTRATE_PATTERN_MIN_CONFIDENCE = 0.5
    drive = WorkspaceDrive(workspace_a.pk)
    drive.write_text("figures.csv", "region,revenue\nnorth,10\nsouth,20\n")

    # Four runs planned by the rule planner succeed: 4 of 4 gives a Wilson lower bound of 0.51.
    ruled = [learned_run(alice, workspace_a, "summarise figures.csv") for _ in range(4)]
    assert {run.plan["planner"] for run in ruled} == {"rules"}
    pattern = LearnedPattern.objects.get(workspace=workspace_a, pattern_type=PatternType.REQUEST_PLAN)
    assert (pattern.usage_count, pattern.success_rate, round(pattern.confidence, 2)) == (4, 1.0, 0.51)

    # The next matching request (another file, same shape) is planned from the pattern, not the rules.
    drive.write_text("totals.csv", "region,revenue\neast,5\n")
    by_pattern = learned_run(alice, workspace_a, "summarise totals.csv")
    assert by_pattern.plan["planner"] == "pattern"
    assert by_pattern.plan["pattern"]["id"] == str(pattern.pk)
    assert by_pattern.plan["pattern"]["confidence"] == 0.51
    assert by_pattern.plan["steps"][0]["input"] == {"files": ["totals.csv"]}
    assert by_pattern.status == ExecutionStatus.SUCCEEDED

    # Its runs start failing (the file is gone): the pattern loses confidence and is not used any more.
    drive.delete("figures.csv")
    failed = learned_run(alice, workspace_a, "summarise figures.csv")
    assert failed.plan["planner"] == "pattern"
    assert failed.status == ExecutionStatus.FAILED
    pattern.refresh_from_db()
    assert (pattern.usage_count, round(pattern.success_rate, 2)) == (6, 0.83)
    assert pattern.confidence < 0.5
    drive.write_text("figures.csv", "region,revenue\nnorth,10\n")
    replanned = learned_run(alice, workspace_a, "summarise figures.csv")
    assert replanned.plan["planner"] == "rules"


def test_it_weights_a_pattern_by_its_ratings(alice, bob, workspace_a):
    runs = [learned_run(alice, workspace_a, TALLY, {"steps": _odds("rated", 100)}) for _ in range(3)]
    pattern = LearnedPattern.objects.get(workspace=workspace_a, pattern_type=PatternType.REQUEST_PLAN)
    unrated = pattern.confidence
    assert round(unrated, 2) == 0.44  # 3 of 3

    rate_run(alice, runs[0], 1, "wrong totals")
    rate_run(bob, runs[0], 2)
    feedback = ExecutionFeedback.objects.get(execution=runs[0])
    assert (feedback.user_rating, feedback.user_comment) == (2, "wrong totals")  # mean 1.5 rounds to 2

    def confidence() -> float | None:
        value = round(LearnedPattern.objects.get(pk=pattern.pk).confidence, 2)
        return value if value == 0.23 else None

    # The runs succeeded, but the rated one counts (1.5 - 1) / 4 = 0.125: 2.125 of 3.
    eventually(confidence, what="the pattern's confidence to count both ratings")
    pattern.refresh_from_db()
    assert pattern.success_rate == 1.0


def test_it_runs_a_plan_edited_before_the_start_and_counts_each_versions_runs(alice, workspace_a):
    planned = submit(
        user=alice, workspace=workspace_a, request_text=TALLY, plan={"steps": _odds("v", 0)}, plan_only=True
    )
    planned = wait_for(planned, statuses={ExecutionStatus.PLANNED})
    edited = edit_plan(alice, planned, _odds("v", 100), note="the one that works")
    assert replace_planned_steps(planned, edited.plan_data)
    assert run_planned(planned, alice)
    ran = wait_for(planned)
    assert ran.status == ExecutionStatus.SUCCEEDED
    assert ran.steps.get().input == {"label": "v", "percent": 100}

    again = wait_for(submit(user=alice, workspace=workspace_a, request_text=TALLY, plan=rerun_plan(original(ran))))
    assert again.plan["rerun_of"] == {"execution": str(ran.pk), "version": 1}
    assert again.status == ExecutionStatus.FAILED  # version 1 never succeeds
    counted = outcomes(ran)
    assert (counted[1].runs, counted[1].succeeded) == (1, 0)
    assert (counted[2].runs, counted[2].succeeded) == (1, 1)


def original(execution: Execution):
    return versions_of(execution).get(version=1)


def test_it_promotes_the_planner_prompt_whose_plans_succeed_more_often(alice, workspace_a, openai_server, settings):
    """A local model that plans by the prompt it is given: prompt B's plans succeed 90% of the time, A's 30%."""

    def model(body: dict[str, Any]) -> str:
        system = body["messages"][0]["content"]
        steady = "PREFER-STEADY" in system
        return json.dumps({"steps": _odds("prompt-b" if steady else "prompt-a", 90 if steady else 30)})

    openai_server.responder = model
    staff = UserFactory.create(username="sam", is_staff=True)
    MemberFactory.create(workspace=workspace_a, user=staff, role=Role.ADMIN)
    first = current_prompt("planner")
    second = prompts.new_version(staff, "planner", first.prompt + " PREFER-STEADY tools.", "steadier plans")
    assert current_prompt("planner").pk == first.pk
    test = start_test(
        staff,
        workspace_a,
        name="planner prompts",
        variant_a=f"prompt:{first.pk}",
        variant_b=f"prompt:{second.pk}",
        min_sample=10,
    )

    during: list[Execution] = []
    while ABTest.objects.get(pk=test.pk).status == ABTestStatus.RUNNING and len(during) < 80:
        run = planned_by_model(alice, workspace_a)
        assert run.plan["planner"] == "llm"
        given = first if run.plan["ab_test"]["variant"] == "A" else second
        assert run.plan["prompt_version"] == given.version
        during.append(run)

    test.refresh_from_db()
    assert test.status == ABTestStatus.COMPLETED, test.results
    assert test.winner == "B"
    assert test.results["A"]["success_rate"] <= 0.35
    assert test.results["B"]["success_rate"] >= 0.8  # 9 of 11 at worst: B fails its 1st and 11th call
    assert test.results["p_value"] < 0.05
    assert current_prompt("planner").pk == second.pk  # promoted

    # Patterns mined meanwhile would plan now; keep them out to measure the prompt alone.
    settings.ORCHESTRATE_PATTERN_MIN_CONFIDENCE = 1.0
    after = [planned_by_model(alice, workspace_a) for _ in range(10)]
    assert {run.plan["prompt_version"] for run in after} == {second.version}
    assert "ab_test" not in after[0].plan
    assert _rate(after) >= 0.8
    first.refresh_from_db()
    second.refresh_from_db()
    assert second.success_rate > first.success_rate
    assert second.performance_score > first.performance_score


def planned_by_model(user, workspace) -> Execution:
    """A run planned in this process (where the local model's address is set), its steps run by the engine."""
    execution = Execution.objects.create(user=user, workspace=workspace, request="crunch the numbers for me")
    plan_execution(str(execution.pk))
    execution = wait_for(execution)
    eventually(
        lambda: ExecutionFeedback.objects.filter(execution=execution, learned_at__isnull=False).exists(),
        what=f"learning to read run {execution.pk}",
        timeout=30,
    )
    return execution
