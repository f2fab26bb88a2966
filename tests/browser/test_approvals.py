"""The approvals queue in a browser: a critical step arrives live, is approved, and the run finishes."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from orchestration.models import ExecutionStatus
from safety.models import ApprovalStatus
from tests.browser.helpers import (
    assert_legible,
    assert_not_reloaded,
    mark_page,
    screenshot_for_docs,
    step_plan,
    submit_in_server,
    wait_for_socket,
)
from tests.support.engine import wait_for
from tests.support.runs import approval_of
from tests.support.tools import effect_count
from tools.drive import WorkspaceDrive

pytestmark = pytest.mark.browser

REQUEST = "Append the audit line, once someone has approved it"


def test_it_brings_a_critical_step_to_the_queue_live_and_finishes_the_run_once_approved(pages, alice, bob, workspace_a):
    # alice may approve; she has the queue open before anything waits for her.
    queue = pages.open_as("alice", "/approvals/")
    wait_for_socket(queue, "/ws/notifications/")
    mark_page(queue)
    expect(queue.locator("[id^=approval-]")).to_have_count(0)

    # bob, an operator, runs something critical and watches it in a context of his own.
    execution = submit_in_server(
        user=bob,
        workspace=workspace_a,
        request_text=REQUEST,
        plan=step_plan({"tool": "test.critical", "input": {"label": "audit"}}),
    )
    run_page = pages.open_as("bob", f"/orchestrate/executions/{execution.pk}/")
    wait_for_socket(run_page, f"/ws/executions/{execution.pk}/")
    mark_page(run_page)

    approval = approval_of(execution)
    row = queue.locator(f"#approval-{approval.pk}")
    expect(row).to_be_visible()
    expect(row).to_contain_text(REQUEST)
    expect(queue.locator("#approvals-badge")).to_have_text("1")
    assert_not_reloaded(queue)
    expect(run_page.locator("#step-1")).to_have_attribute("data-status", "waiting_approval")
    expect(run_page.locator("#execution-status")).to_have_attribute("data-status", "waiting_approval")
    assert_legible(row.locator("button[name=decision]"))
    screenshot_for_docs(queue, "approvals")

    row.locator("textarea[name=comment]").fill("Checked the label, go ahead")
    row.locator("button[name=decision][value=approve]").click()

    run_page.wait_for_selector('#execution-status[data-status="succeeded"]')
    expect(run_page.locator("#step-1")).to_have_attribute("data-status", "succeeded")
    assert_not_reloaded(run_page)
    expect(queue.locator(f"#approval-{approval.pk}")).to_have_count(0)

    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.APPROVED
    assert approval.resolved_by == alice
    assert approval.comment == "Checked the label, go ahead"
    assert wait_for(execution).status == ExecutionStatus.SUCCEEDED
    assert effect_count(WorkspaceDrive(workspace_a.pk)) == 1


def test_it_rejects_from_the_queue_and_the_effect_never_happens(pages, alice, workspace_a):
    queue = pages.open_as("alice", "/approvals/")
    execution = submit_in_server(
        user=alice,
        workspace=workspace_a,
        request_text="Append a line nobody wants",
        plan=step_plan({"tool": "test.critical", "input": {"label": "unwanted"}}),
    )
    approval = approval_of(execution)
    queue.reload()
    row = queue.locator(f"#approval-{approval.pk}")
    row.locator("textarea[name=comment]").fill("Not today")
    row.locator("button[name=decision][value=reject]").click()
    expect(queue.locator(f"#approval-{approval.pk}")).to_have_count(0)

    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.REJECTED
    assert approval.comment == "Not today"
    assert wait_for(execution).status in {ExecutionStatus.FAILED, ExecutionStatus.SUCCEEDED}
    assert effect_count(WorkspaceDrive(workspace_a.pk)) == 0
