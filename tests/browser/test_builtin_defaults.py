"""A fresh embedded server with nothing configured (no EMAIL_URL, CALDAV_URL or LLM_BASE_URL):
the console's own suggested request runs end to end on the built-in calendar, an e-mail is
approved and lands in the Outbox, a missing detail is asked and answered, and a plan is
previewed before it runs."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, time, timedelta
from email import policy
from email.parser import BytesParser

import icalendar
import pytest
from playwright.sync_api import expect

from orchestration.models import Execution, ExecutionStatus
from tests.browser.helpers import screenshot_for_docs
from tests.support.engine import wait_for

pytestmark = pytest.mark.browser

SALES_Q1 = "region,revenue\nnorth,1200\nsouth,800\n"
SALES_Q2 = "region,revenue\nnorth,1500\nsouth,700\n"


@pytest.fixture(autouse=True)
def nothing_configured(settings):
    for name in ("EMAIL_URL", "CALDAV_URL", "LLM_BASE_URL"):
        assert not os.environ.get(name), f"{name} is set: these tests need a server with nothing configured"


def _latest(alice) -> Execution:
    return Execution.objects.filter(user=alice).latest("created_at")


def _submit(page, text: str, *, plan_only: bool = False) -> None:
    page.goto("/orchestrate")
    page.fill("#id_request", text)
    page.locator("#plan-only" if plan_only else "#submit-form button[value=run]").click()
    expect(page).to_have_url(re.compile(r"/orchestrate/executions/"))


def test_it_runs_the_suggested_request_and_mails_through_the_outbox(pages, alice, workspace_a, tmp_path):
    page = pages.open_as("alice", "/orchestrate")
    for name, text in (("sales_q1.csv", SALES_Q1), ("sales_q2.csv", SALES_Q2)):
        (tmp_path / name).write_text(text)
    page.set_input_files("#id_files", [str(tmp_path / "sales_q1.csv"), str(tmp_path / "sales_q2.csv")])
    page.locator("#upload-form button[type=submit]").click()
    expect(page.locator("#drive")).to_contain_text("sales_q2.csv")

    suggested = page.locator("#id_request").get_attribute("placeholder")
    assert suggested == "Summarise the sales CSVs in our drive and book a review meeting tomorrow at 10"
    _submit(page, suggested)
    run = wait_for(_latest(alice), timeout=60)
    assert run.status == ExecutionStatus.SUCCEEDED, run.error
    assert [step.tool for step in run.steps.order_by("step_number")] == [
        "drive.search",
        "analysis.describe",
        "calendar.create_event",
    ]
    expect(page.locator("#execution-status")).to_have_attribute("data-status", "succeeded")

    page.goto("/orchestrate/calendar/")
    expect(page.locator("#calendar-notice")).to_contain_text("built-in calendar")
    expect(page.locator("#calendar-events")).to_contain_text("Review meeting")
    screenshot_for_docs(page, "calendar")
    feed = page.request.get(page.locator("#feed-url").get_attribute("href"))
    assert feed.ok
    [event] = icalendar.Calendar.from_ical(feed.body()).walk("VEVENT")
    tomorrow_10 = datetime.combine(datetime.now(UTC).date() + timedelta(days=1), time(10, 0), tzinfo=UTC)
    assert event.decoded("DTSTART") == tomorrow_10
    assert str(event["SUMMARY"]) == "Review meeting"

    _submit(page, "Put together a report on the sales data and send it to team@example.com")
    mail_run = _latest(alice)
    waiting = wait_for(mail_run, statuses={ExecutionStatus.WAITING_APPROVAL, ExecutionStatus.FAILED}, timeout=60)
    assert waiting.status == ExecutionStatus.WAITING_APPROVAL, waiting.error
    page.goto("/approvals/")
    page.locator("button[name=decision][value=approve]").first.click()
    done = wait_for(mail_run, timeout=60)
    assert done.status == ExecutionStatus.SUCCEEDED, done.error
    assert done.steps.get(tool="email.send").output["delivered"] is False

    page.goto("/orchestrate/outbox/")
    expect(page.locator("#outbox-notice")).to_contain_text("No mail server is configured")
    message = page.locator(".outbox-message").first
    expect(message).to_contain_text("team@example.com")
    expect(message).to_contain_text("Not delivered")
    expect(message.locator(".attachments")).to_contain_text(".md")
    screenshot_for_docs(page, "outbox")
    eml = page.request.get(message.locator("a.download").get_attribute("href"))
    assert eml.ok
    parsed = BytesParser(policy=policy.default).parsebytes(eml.body())
    assert parsed["To"] == "team@example.com"
    [attachment] = list(parsed.iter_attachments())
    assert attachment.get_filename().endswith(".md")
    report = attachment.get_payload(decode=True).decode()
    assert "sales_q2.csv" in report
    assert "4200" in report  # the two files' revenue together


def test_it_asks_for_a_missing_detail_and_the_answer_finishes_the_run(pages, alice, workspace_a):
    page = pages.open_as("alice", "/orchestrate")
    from tools.drive import WorkspaceDrive

    WorkspaceDrive(workspace_a.pk).write_text("sales_q1.csv", SALES_Q1)
    _submit(page, "crunch the numbers")
    run = wait_for(_latest(alice), statuses={ExecutionStatus.WAITING_INPUT, ExecutionStatus.FAILED}, timeout=60)
    assert run.status == ExecutionStatus.WAITING_INPUT, run.error
    # The question arrives live over the page's websocket: no reload.
    question = page.locator("#question")
    expect(question).to_contain_text("Which files should I use?")
    screenshot_for_docs(page, "question")
    question.get_by_role("button", name="sales_q1.csv").click()

    done = wait_for(run, timeout=60)
    assert done.status == ExecutionStatus.SUCCEEDED, done.error
    assert done.answers == {"files": "sales_q1.csv"}
    expect(page.locator("#execution-status")).to_have_attribute("data-status", "succeeded")


def test_it_shows_the_plan_before_running_it(pages, alice, workspace_a):
    page = pages.open_as("alice", "/orchestrate")
    from tools.drive import WorkspaceDrive

    WorkspaceDrive(workspace_a.pk).write_text("sales_q1.csv", SALES_Q1)
    _submit(page, "summarise the sales CSV files", plan_only=True)
    run = wait_for(_latest(alice), statuses={ExecutionStatus.PLANNED, ExecutionStatus.FAILED}, timeout=60)
    assert run.status == ExecutionStatus.PLANNED, run.error
    page.reload()
    expect(page.locator("#plan-preview")).to_be_visible()
    expect(page.locator("#steps")).to_contain_text("analysis.describe")
    page.get_by_role("button", name="Run this plan").click()
    done = wait_for(run, timeout=60)
    assert done.status == ExecutionStatus.SUCCEEDED, done.error
