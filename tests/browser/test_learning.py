"""The learning loop in a browser: rate a run, edit its plan and see the diff, re-run the new version,
then see the mined pattern and start an A/B test on the Learning page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from learning.models import LearnedPattern, PatternType, RunRating
from orchestration.models import Execution, ExecutionStatus
from tests.browser.helpers import screenshot_for_docs, step_plan, submit_in_server
from tests.support.engine import wait_for
from tests.support.polling import eventually
from versioning.models import ABTest, PlanVersion

pytestmark = pytest.mark.browser

REQUEST = "tally the quarterly figures"


def test_it_rates_edits_diffs_reruns_and_shows_what_was_learned(pages, alice, workspace_a):
    run = wait_for(
        submit_in_server(
            user=alice,
            workspace=workspace_a,
            request_text=REQUEST,
            plan=step_plan({"tool": "test.noop", "input": {"value": 1}}),
        )
    )
    assert run.status == ExecutionStatus.SUCCEEDED

    # Rate the run on its page: the section answers in place.
    page = pages.open_as("alice", f"/orchestrate/executions/{run.pk}/")
    rating = page.locator("#execution-rating")
    rating.get_by_label("4 - good").check()
    rating.locator("textarea[name=comment]").fill("Right numbers, a bit slow")
    rating.get_by_role("button", name="Rate this run").click()
    expect(page.locator("#your-rating")).to_contain_text("You rated it 4/5")
    assert RunRating.objects.get(execution=run, user=alice).comment == "Right numbers, a bit slow"

    # Edit the plan: a new version, then the diff to the first.
    page.get_by_role("link", name="plan versions").click()
    expect(page.locator("#plan-v1")).to_be_visible()
    page.locator("textarea[name=steps-0-input]").fill('{"value": 2}')
    page.locator("input[name=note]").fill("the other value")
    page.get_by_role("button", name="Save as a new version").click()
    expect(page.locator("#plan-diff")).to_contain_text("input value: 1 → 2")
    screenshot_for_docs(page, "plan-diff")
    assert PlanVersion.objects.get(plan=run, version=2).metadata["note"] == "the other value"

    # Re-run version 2 as a new run.
    page.get_by_role("link", name="← Plan versions").click()
    expect(page.locator("#plan-v2")).to_be_visible()
    page.get_by_role("button", name="Re-run v2").click()
    page.wait_for_url("**/orchestrate/executions/**")
    rerun = Execution.objects.exclude(pk=run.pk).get(request=REQUEST)
    assert rerun.plan["rerun_of"] == {"execution": str(run.pk), "version": 2}
    assert wait_for(rerun).status == ExecutionStatus.SUCCEEDED

    # The Learning page shows the pattern mined from the runs; an A/B test starts between the two versions.
    eventually(
        lambda: LearnedPattern.objects.filter(workspace=workspace_a, pattern_type=PatternType.REQUEST_PLAN).exists(),
        what="learning to mine the runs",
    )
    page.goto(f"{pages.server.url}/learning/")
    expect(page.locator("#request-patterns")).to_contain_text('en|analyse|files -> test.noop {"value": 1}')
    form = page.locator("#ab-test-form")
    form.locator("input[name=name]").fill("value one or two")
    first, second = (PlanVersion.objects.get(plan=run, version=n) for n in (1, 2))
    form.locator("select[name=variant_a]").select_option(label=f"Plan v1 of run {str(run.pk)[:8]} “{REQUEST}”")
    form.locator("select[name=variant_b]").select_option(value=f"version:{second.pk}")
    form.locator("input[name=min_sample]").fill("5")
    form.get_by_role("button", name="Start the test").click()
    expect(page.locator(".ab-test h3")).to_contain_text("value one or two")
    test = ABTest.objects.get(name="value one or two")
    assert (test.variant_a["source"], test.variant_b["source"]) == (f"version:{first.pk}", f"version:{second.pk}")
    article = page.locator(f"#test-{test.pk}")
    expect(article).to_contain_text("Running")
    expect(page.locator("#main")).to_contain_text("pooled two-proportion z-test")
    expect(article).to_contain_text("p = 1.0000")
    screenshot_for_docs(page, "learning")
