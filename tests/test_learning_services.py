"""The learning services called directly: the arithmetic, templates, prompt versions, plan edits and diffs."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.utils import timezone

from learning.models import ExecutionFeedback, LearnedPattern, PatternType, PromptVersion
from learning.services import prompts
from learning.services.abtests import ABTestInvalid, start_test, variant_for
from learning.services.feedback import RatingInvalid, rate_run
from learning.services.signature import fill_template, plan_template, request_signature, signature_of
from learning.services.stats import two_proportion_test, wilson_lower_bound
from orchestration.agents import current_prompt
from orchestration.models import ExecutionStatus
from orchestration.planning.schema import PlanInvalid
from orchestration.planning.understanding import understand
from tests.factories.orchestration import ExecutionFactory, ExecutionStepFactory
from tests.factories.tenancy import UserFactory
from versioning.models import PlanVersion
from versioning.services import EditRefused, diff, edit_plan

pytestmark = pytest.mark.django_db


def test_it_keeps_small_samples_humble():
    assert round(wilson_lower_bound(3, 3), 2) == 0.44
    assert round(wilson_lower_bound(20, 20), 2) == 0.84
    assert round(wilson_lower_bound(90, 100), 2) == 0.83
    assert wilson_lower_bound(0, 0) == 0.0


def test_it_tests_two_success_rates():
    clear = two_proportion_test(3, 10, 9, 10)
    assert clear.p_value < 0.01
    assert clear.z > 0
    assert two_proportion_test(5, 10, 5, 10).p_value == 1.0
    assert two_proportion_test(0, 0, 3, 3).p_value == 1.0


def test_it_gives_a_run_the_same_variant_every_time():
    picks = [variant_for("test-1", f"run-{n}", 0.5) for n in range(400)]
    assert picks == [variant_for("test-1", f"run-{n}", 0.5) for n in range(400)]
    assert 160 < picks.count("B") < 240
    assert {variant_for("test-1", f"run-{n}", 0.01) for n in range(50)} <= {"A", "B"}


def test_it_abstracts_a_plan_and_fills_it_for_another_request():
    found = understand("summarise figures.csv and mail it to ann@example.com")
    plan = {
        "steps": [
            {"number": 1, "tool": "analysis.describe", "input": {"files": ["figures.csv"]}},
            {"number": 2, "tool": "email.send", "input": {"to": ["ann@example.com"], "subject": "figures.csv"}},
        ]
    }
    template = plan_template(plan, found)
    assert template[0]["input"] == {"files": ["\u27e6file_names.0\u27e7"]}
    assert template[1]["input"]["to"] == ["\u27e6emails.0\u27e7"]

    other = understand("summarise totals.csv and mail it to bo@example.org")
    assert signature_of(other) == signature_of(found)
    steps = fill_template(template, other)
    assert steps is not None
    assert steps[0]["input"] == {"files": ["totals.csv"]}
    assert steps[1]["input"] == {"to": ["bo@example.org"], "subject": "totals.csv"}
    # A request without an address cannot fill the template.
    assert fill_template(template, understand("summarise totals.csv")) is None


def test_it_tells_request_shapes_apart():
    assert request_signature("summarise figures.csv") == request_signature("summarise totals.csv")
    assert request_signature("summarise figures.csv") != request_signature("summarise the sales CSV files")


def test_it_refuses_ratings_of_unfinished_runs_and_out_of_range(alice, workspace_a):
    running = ExecutionFactory.create(workspace=workspace_a, user=alice, status=ExecutionStatus.RUNNING)
    done = ExecutionFactory.create(workspace=workspace_a, user=alice, status=ExecutionStatus.SUCCEEDED)
    with pytest.raises(RatingInvalid, match="finished"):
        rate_run(alice, running, 3)
    with pytest.raises(RatingInvalid, match="1 to 5"):
        rate_run(alice, done, 0)
    with pytest.raises(RatingInvalid, match="1 to 5"):
        rate_run(alice, done, True)


def test_it_refuses_a_rating_from_outside_the_workspace(charlie, alice, workspace_a):
    done = ExecutionFactory.create(workspace=workspace_a, user=alice, status=ExecutionStatus.SUCCEEDED)
    with pytest.raises(PermissionDenied):
        rate_run(charlie, done, 5)


def test_it_makes_a_prompt_version_current_for_staff_only(alice):
    staff = UserFactory.create(username="staffer", is_staff=True)
    first = current_prompt("planner")
    second = prompts.new_version(staff, "planner", "Plan in as few steps as you can.", "fewer steps")
    assert (second.version, second.note) == (first.version + 1, "fewer steps")
    assert current_prompt("planner").pk == first.pk  # saving a version does not change what is used

    prompts.make_current(second, staff)
    assert current_prompt("planner").pk == second.pk
    assert PromptVersion.objects.filter(agent_id="planner", is_current=True).count() == 1
    with pytest.raises(PermissionDenied):
        prompts.new_version(alice, "planner", "Anything.", "not staff")
    with pytest.raises(PermissionDenied):
        prompts.make_current(first, alice)


def _planned(workspace, user, status=ExecutionStatus.SUCCEEDED):
    execution = ExecutionFactory.create(workspace=workspace, user=user, status=status, request="noop")
    plan = {"planner": "rules", "steps": [{"number": 1, "tool": "test.noop", "input": {"value": 1}, "depends_on": []}]}
    PlanVersion.objects.create(plan=execution, version=1, plan_data=plan, metadata={"source": "rules"})
    return execution


def test_it_edits_a_finished_plan_as_a_new_version_and_shows_the_diff(alice, workspace_a):
    execution = _planned(workspace_a, alice)
    steps = [
        {"number": 1, "tool": "test.noop", "input": {"value": 2}},
        {"number": 2, "tool": "test.sleep", "input": {"seconds": 0}, "depends_on": [1], "optional": True},
    ]
    version = edit_plan(alice, execution, steps, note="two steps")
    assert (version.version, version.metadata["note"], version.plan_data["planner"]) == (2, "two steps", "edited")

    changes = diff(PlanVersion.objects.get(plan=execution, version=1).plan_data, version.plan_data)
    assert [(c.number, c.kind) for c in changes] == [(1, "changed"), (2, "added")]
    assert changes[0].changes == ["input value: 1 → 2"]
    removed = diff(version.plan_data, PlanVersion.objects.get(plan=execution, version=1).plan_data)
    assert [(c.number, c.kind) for c in removed] == [(1, "changed"), (2, "removed")]


def test_it_validates_an_edit_like_any_plan(alice, workspace_a):
    execution = _planned(workspace_a, alice)
    with pytest.raises(PlanInvalid, match="unknown tool"):
        edit_plan(alice, execution, [{"number": 1, "tool": "no.such", "input": {}}])
    with pytest.raises(PlanInvalid, match="earlier step"):
        edit_plan(alice, execution, [{"number": 1, "tool": "test.noop", "input": {}, "depends_on": [1]}])
    assert PlanVersion.objects.filter(plan=execution).count() == 1


def test_it_refuses_to_edit_a_running_plan_or_for_a_viewer(alice, victor, workspace_a):
    running = _planned(workspace_a, alice, status=ExecutionStatus.RUNNING)
    with pytest.raises(EditRefused):
        edit_plan(alice, running, [{"number": 1, "tool": "test.noop", "input": {}}])
    with pytest.raises(PermissionDenied):
        edit_plan(victor, _planned(workspace_a, alice), [{"number": 1, "tool": "test.noop", "input": {}}])


def test_it_refuses_a_test_of_unlike_variants(alice, workspace_a):
    one = _planned(workspace_a, alice)
    other = ExecutionFactory.create(workspace=workspace_a, user=alice, request="send a mail to bo@example.org")
    PlanVersion.objects.create(plan=other, version=1, plan_data=one.plan_versions.get().plan_data)
    a = PlanVersion.objects.get(plan=one)
    b = PlanVersion.objects.get(plan=other)
    with pytest.raises(ABTestInvalid, match="same thing"):
        start_test(alice, workspace_a, name="x", variant_a=f"version:{a.pk}", variant_b=f"version:{b.pk}")
    with pytest.raises(ABTestInvalid, match="different"):
        start_test(alice, workspace_a, name="x", variant_a=f"version:{a.pk}", variant_b=f"version:{a.pk}")


def test_it_learns_in_the_nightly_batch_from_runs_the_job_missed(alice, workspace_a):
    plan = {"planner": "given", "steps": [{"number": 1, "tool": "test.noop", "agent": "test", "input": {"value": 1}}]}
    for _ in range(3):
        run = ExecutionFactory.create(
            workspace=workspace_a,
            user=alice,
            status=ExecutionStatus.SUCCEEDED,
            request="tally the quarterly figures",
            plan=plan,
            total_steps=1,
            current_step=1,
            completed_at=timezone.now(),
        )
        ExecutionStepFactory.create(execution=run, step_number=1, agent_id="test", tool="test.noop", status="succeeded")

    call_command("learn", stdout=io.StringIO())

    pattern = LearnedPattern.objects.get(workspace=workspace_a, pattern_type=PatternType.REQUEST_PLAN)
    assert (pattern.usage_count, pattern.success_rate, round(pattern.confidence, 2)) == (3, 1.0, 0.44)
    sequence = LearnedPattern.objects.get(workspace=workspace_a, pattern_type=PatternType.TOOL_SEQUENCE)
    assert sequence.description == "Test"
    assert ExecutionFeedback.objects.filter(learned_at__isnull=False).count() == 3
