"""/orchestrate in a browser: submit a request, watch it run live, read its page; markup stays text."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from orchestration.models import Execution
from tests.browser.helpers import (
    XSS,
    assert_not_reloaded,
    login,
    mark_page,
    page_shows_text_not_markup,
    screenshot_for_docs,
    step_plan,
    submit_in_server,
    wait_for_socket,
)
from tests.support.runs import approval_of
from tools.drive import WorkspaceDrive

pytestmark = pytest.mark.browser

REQUEST = "summarise the sales CSV files and write a report"
EXECUTION_URL = re.compile(r"/orchestrate/executions/([0-9a-f-]{36})/$")


@pytest.fixture
def sales_files(workspace_a):
    drive = WorkspaceDrive(workspace_a.pk)
    drive.write_text("sales_q1.csv", "region,revenue,units\nnorth,1200.50,10\nsouth,800,7\neast,,3\n")
    drive.write_text("data/sales_q2.csv", "region,revenue,units\nnorth,1500,12\nwest,950.25,9\n")
    return drive


def _run(page, request_text: str) -> str:
    """Submit through the form on /orchestrate; returns the new run's id from the page it lands on."""
    form = page.locator("#submit-form")
    form.locator("textarea[name=request]").fill(request_text)
    form.get_by_role("button", name="Run", exact=True).click()
    page.wait_for_url(EXECUTION_URL)
    found = EXECUTION_URL.search(page.url)
    assert found is not None, page.url
    return found.group(1)


def test_it_runs_a_submitted_request_and_shows_its_progress_live(pages, alice, sales_files):
    page = pages.new_context().new_page()
    page.goto("/accounts/login/")
    expect(page.locator("#id_username")).to_be_visible()
    screenshot_for_docs(page, "login")
    login(page, "alice")

    # A second tab holds the list open from before the run exists: the run must arrive over the socket.
    listing = page.context.new_page()
    listing.goto("/orchestrate")
    wait_for_socket(listing, "/ws/executions/")
    mark_page(listing)

    page.goto("/orchestrate")
    execution_id = _run(page, REQUEST)
    mark_page(page)
    page.wait_for_selector('#execution-status[data-status="succeeded"]')
    for number in (1, 2, 3):
        expect(page.locator(f"#step-{number}")).to_have_attribute("data-status", "succeeded")
    assert_not_reloaded(page)

    row = listing.locator(f"#execution-{execution_id}")
    expect(row.locator("span.status")).to_have_attribute("data-status", "succeeded")
    expect(row).to_contain_text(REQUEST)
    assert_not_reloaded(listing)

    execution = Execution.objects.get(pk=execution_id)
    assert execution.status == "succeeded", execution.error
    assert execution.user == alice


def test_it_shows_plan_steps_messages_context_and_result_on_the_execution_page(pages, alice, sales_files):
    page = pages.open_as("alice", "/orchestrate")
    execution_id = _run(page, REQUEST)
    page.wait_for_selector('#execution-status[data-status="succeeded"]')
    page.reload()  # what the server renders for a finished run, not what the socket added

    expect(page.locator("#execution-status")).to_have_attribute("data-status", "succeeded")
    for tool in ("drive.search", "analysis.describe", "report.compose"):
        expect(page.locator("#plan")).to_contain_text(tool)
    for number in (1, 2, 3):
        expect(page.locator(f"#step-{number}")).to_have_attribute("data-status", "succeeded")
    progress = page.locator("progress#progress")
    assert progress.get_attribute("value") == progress.get_attribute("max"), "a finished run shows full progress"
    expect(page.locator("#messages")).to_contain_text(re.compile("request", re.I))
    expect(page.locator("#messages")).to_contain_text(re.compile("response", re.I))
    expect(page.locator("#shared-context")).to_contain_text("files.found")
    expect(page.locator("#result")).to_contain_text(re.compile(r"reports/"))
    expect(page.locator("#logs")).not_to_be_empty()
    expect(page.locator("#cancel-form")).to_have_count(0)  # nothing to cancel once it ended
    screenshot_for_docs(page, "execution")

    page.goto("/orchestrate")
    expect(page.locator(f"#execution-{execution_id} span.status")).to_have_attribute("data-status", "succeeded")
    screenshot_for_docs(page, "orchestrate")


def test_it_adds_a_run_that_fails_at_once_to_a_list_open_elsewhere(pages, alice):
    page = pages.open_as("alice", "/orchestrate")
    listing = page.context.new_page()
    listing.goto("/orchestrate")
    wait_for_socket(listing, "/ws/executions/")
    mark_page(listing)

    # No planner serves this: the run goes from pending to failed within milliseconds.
    execution_id = _run(page, "hum a tune nobody can plan")
    page.wait_for_selector('#execution-status[data-status="failed"]')
    expect(listing.locator(f"#execution-{execution_id} span.status")).to_have_attribute("data-status", "failed")
    assert_not_reloaded(listing)


def test_it_shows_a_request_with_markup_as_text_everywhere(pages, alice, workspace_a):
    page = pages.open_as("alice", "/orchestrate")
    listing = page.context.new_page()

    # No planner serves this text: the run fails, and its page still shows the request.
    execution_id = _run(page, XSS)
    page.wait_for_selector('#execution-status[data-status="failed"]')
    page_shows_text_not_markup(page)  # the page, and the parts its socket sent on connecting
    listing.goto("/orchestrate")
    expect(listing.locator(f"#execution-{execution_id}")).to_be_visible()
    page_shows_text_not_markup(listing)
    mark_page(listing)
    listing.fill("input[name=q]", "window")
    listing.locator("#filter-form").get_by_role("button", name="Filter").click()
    expect(listing).to_have_url(re.compile(r"q=window"))
    expect(listing.locator(f"#execution-{execution_id}")).to_be_visible()
    assert_not_reloaded(listing)
    page_shows_text_not_markup(listing)  # the list as htmx swapped it in

    queue = page.context.new_page()
    queue.goto("/approvals/")
    wait_for_socket(queue, "/ws/notifications/")
    critical = submit_in_server(
        user=alice,
        workspace=workspace_a,
        request_text=XSS,
        plan=step_plan({"tool": "test.critical", "input": {"label": "xss"}}),
    )
    queue.locator(f"#approval-{approval_of(critical).pk}").wait_for()
    page_shows_text_not_markup(queue)  # the row the socket brought in
    queue.reload()
    page_shows_text_not_markup(queue)


def test_it_loads_every_page_from_its_own_server(pages, alice, workspace_a):
    page = pages.open_as("alice")
    execution = submit_in_server(
        user=alice, workspace=workspace_a, request_text="Look at nothing", plan=step_plan({"tool": "test.noop"})
    )
    for path in ("/orchestrate", f"/orchestrate/executions/{execution.pk}/", "/approvals/", "/workspaces/"):
        response = page.goto(path)
        assert response is not None
        assert response.status == 200, path
    assert pages.requests, "the pages made no requests at all"
    assert any(url.endswith(".css") for url in pages.requests)
    assert not pages.foreign_requests(), pages.foreign_requests()
