"""Monitoring pages in a real Chromium: the dashboard's charts, a slow run's waterfall, the logs page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import assert_not_reloaded, mark_page, screenshot_for_docs, step_plan, submit_in_server
from tests.support.engine import wait_for

pytestmark = pytest.mark.browser

NOOP = {"tool": "test.noop", "input": {"value": 1}}


def _runs(alice, workspace, count: int, plan=None, text: str = "monitored run"):
    made = [
        submit_in_server(
            user=alice, workspace=workspace, request_text=f"{text} {n}", plan=plan or step_plan(NOOP, NOOP)
        )
        for n in range(count)
    ]
    return [wait_for(run) for run in made]


def test_it_draws_the_dashboard_from_the_runs_and_updates_it_live(pages, alice, workspace_a):
    slow = step_plan(NOOP, {"tool": "test.sleep", "input": {"seconds": 1.5}, "depends_on": [1]})
    failing = step_plan({"tool": "test.flaky", "input": {"failures": 10}})  # fails after its last attempt
    runs = _runs(alice, workspace_a, 2) + _runs(alice, workspace_a, 1, slow, "slow run")
    assert all(run.status == "succeeded" for run in runs)
    page = pages.open_as("alice", "/monitoring/?range=1h")

    expect(page.locator("#tile-runs .tile-value")).to_have_text("3")
    expect(page.locator("#tile-success-rate .tile-value")).to_have_text("100%")
    runs_chart = page.locator("#chart-runs svg")
    expect(runs_chart.locator("desc")).to_have_text("3 runs in the last hour: 3 succeeded.")
    assert runs_chart.locator("rect.bar").count() >= 1
    durations = page.locator("#chart-step-durations")
    assert sorted(durations.locator("svg text.row-label").all_text_contents()) == ["test.noop", "test.sleep"]
    expect(page.locator("#chart-slowest-tools svg text.row-label").first).to_have_text("test.sleep")
    # Every chart is an image with a name and a description, and its numbers as a table.
    for chart in page.locator("figure.chart").all():
        svg = chart.locator("svg")
        assert svg.get_attribute("role") == "img"
        assert len(svg.get_attribute("aria-labelledby").split()) == 2
        expect(chart.locator("details.chart-data table")).to_have_count(1)
    page.locator("#chart-runs summary").click()
    expect(page.locator("#chart-runs table")).to_be_visible()
    screenshot_for_docs(page, "monitoring-dashboard")

    # The page polls: a run made while it is open shows up without a reload.
    mark_page(page)
    _runs(alice, workspace_a, 1, failing, "failing run")
    expect(page.locator("#tile-runs .tile-value")).to_have_text("4", timeout=20_000)
    expect(page.locator("#tile-error-rate .tile-value")).to_have_text("25%")
    expect(page.locator("#top-errors")).to_contain_text("test.flaky")
    assert_not_reloaded(page)


def test_it_shows_the_slow_step_as_the_longest_bar_of_the_waterfall(pages, alice, workspace_a):
    plan = step_plan(
        NOOP,
        {"tool": "test.sleep", "input": {"seconds": 1.5}, "depends_on": [1]},
        {"tool": "test.noop", "input": {"value": 2}, "depends_on": [2]},
    )
    (run,) = _runs(alice, workspace_a, 1, plan, "slow middle step")
    assert run.status == "succeeded"
    page = pages.open_as("alice", f"/orchestrate/executions/{run.pk}/")

    bars = page.locator('#waterfall rect[data-kind="step"]')
    expect(bars).to_have_count(3)
    widths = {bar.get_attribute("data-label"): bar.bounding_box()["width"] for bar in bars.all()}
    assert max(widths, key=widths.get) == "step 2: test.sleep", widths
    assert widths["step 2: test.sleep"] > 5 * widths["step 1: test.noop"]
    expect(page.locator("#waterfall rect.wf-bottleneck")).to_have_attribute("data-label", "step 2: test.sleep")
    expect(page.locator("#waterfall-summary")).to_contain_text("Longest step: step 2: test.sleep")
    # Details on click: the bar links to its row with status and metadata.
    page.locator("#waterfall rect.wf-bottleneck").click()
    expect(page.locator("#waterfall details.waterfall-details")).to_have_attribute("open", "")
    page.locator("#waterfall details.waterfall-details").evaluate("d => d.open = true")
    expect(page.locator("#waterfall .bottleneck-row")).to_contain_text("longest step")
    page.locator("#waterfall").scroll_into_view_if_needed()
    screenshot_for_docs(page, "execution-waterfall")


def test_it_filters_the_logs_and_tails_new_lines(pages, alice, workspace_a):
    _runs(alice, workspace_a, 1)
    page = pages.open_as("alice", "/monitoring/logs/")

    page.fill("#id_q", "succeeded")
    page.select_option("#id_level", "INFO")
    page.get_by_role("button", name="Search").click()
    messages = page.locator("#log-rows .log-message")
    expect(messages.first).to_be_visible()
    assert all("succeeded" in text.lower() for text in messages.all_inner_texts())

    page.locator("#log-follow").click()
    expect(page.locator(".following")).to_be_visible()
    mark_page(page)
    before = messages.count()
    _runs(alice, workspace_a, 1, text="tailed run")
    expect(messages).not_to_have_count(before, timeout=20_000)
    assert all("succeeded" in text.lower() for text in messages.all_inner_texts())
    assert "tailed run" in page.locator("#log-rows tr").first.inner_text()
    assert_not_reloaded(page)
    screenshot_for_docs(page, "monitoring-logs")
