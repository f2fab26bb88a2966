"""The console in Hebrew, in a real Chromium: switched from the navigation, every page right to
left with nothing overflowing or overlapping on a phone (375 px) and a desktop (1280 px), and a
Hebrew request planned and run end to end (docs/i18n.md). Screenshots of each page go to
<screenshots>/he/ (docs/screenshots/he/ via `make screenshots`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

import icalendar
import pytest
from playwright.sync_api import Page, expect

from orchestration.models import Execution, ExecutionStatus
from tests.browser.helpers import SCREENSHOTS, step_plan, submit_in_server
from tests.factories.safety import PendingApprovalFactory
from tests.support.engine import wait_for
from webhooks.services import create_webhook

pytestmark = pytest.mark.browser

HEBREW_REQUEST = "סכם את קבצי ה-CSV של המכירות וקבע פגישת סקירה מחר ב-10"
SALES_Q1 = "region,revenue\nnorth,1200\nsouth,800\n"
SALES_Q2 = "region,revenue\nnorth,1500\nsouth,700\n"
WIDTHS = (375, 1280)

# Every visible element: inside the viewport across, and no two neighbours drawn over each other.
# Content inside a scroll container (wide tables, code) may scroll; the container itself must fit.
GEOMETRY = """
() => {
  const width = window.innerWidth;
  const problems = [];
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  const scrolls = el => { for (let a = el.parentElement; a; a = a.parentElement) {
      const x = getComputedStyle(a).overflowX; if (x === 'auto' || x === 'scroll' || x === 'hidden') return true; }
    return false; };
  const shown = el => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
  const elements = [...document.querySelectorAll('body *')].filter(
    el => !el.closest('.visually-hidden, .skip-link, [hidden], script, style, svg') && shown(el));
  for (const el of elements) {
    if (scrolls(el)) continue;
    const r = el.getBoundingClientRect();
    if (r.left < -1 || r.right > width + 1) {
      problems.push(`${name(el)} overflows: ${Math.round(r.left)}..${Math.round(r.right)} of ${width}`);
    }
  }
  const boxes = new Set(elements.filter(el => el.matches(
    'h1, h2, h3, p, label, button, a, input, select, textarea, th, td, li, dt, dd, nav, form, '
    + '.brand, .status, .badge')));
  for (const el of boxes) {
    for (const other of el.parentElement ? el.parentElement.children : []) {
      const after = el.compareDocumentPosition(other) & Node.DOCUMENT_POSITION_FOLLOWING;
      if (other === el || !boxes.has(other) || !after) continue;
      const a = el.getBoundingClientRect(), b = other.getBoundingClientRect();
      const across = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const down = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (across > 2 && down > 2) problems.push(`${name(el)} overlaps ${name(other)}`);
    }
  }
  return problems;
}
"""


def _switch_to_hebrew(page: Page) -> None:
    page.select_option("#language-select", "he")
    page.locator("#language-switcher button[type=submit]").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")


def _check_and_shoot(page: Page, name: str) -> None:
    """The page right to left, fitting each width; a screenshot of it at each."""
    (SCREENSHOTS / "he").mkdir(parents=True, exist_ok=True)
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("html")).to_have_attribute("lang", "he")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        page.wait_for_timeout(50)  # one layout pass at the new width
        problems = page.evaluate(GEOMETRY)
        assert not problems, f"{name} at {width}px: {problems}"
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{name} is {overflow}px wider than {width}px"
        page.screenshot(path=str(SCREENSHOTS / "he" / f"{name}-{width}.png"), full_page=True, caret="initial")


def test_it_switches_to_hebrew_and_every_page_reads_right_to_left(pages, alice, bob, workspace_a):
    execution = submit_in_server(
        user=alice,
        workspace=workspace_a,
        request_text="בקשה לדוגמה: סכם את sales_q1.csv ושלח ל-bob@example.com",
        plan=step_plan({"tool": "test.noop", "description": "שלב לדוגמה"}),
    )
    wait_for(execution, timeout=30)
    PendingApprovalFactory.create(execution=execution)
    webhook = create_webhook(
        alice,
        workspace_a,
        name="דוח לילי",
        trigger_type="cron",
        trigger_config={"cron": "0 2 * * *", "timezone": "UTC"},
        action_config={"request": "סכם את קבצי המכירות"},
    )
    member = workspace_a.members.get(user=bob)

    page = pages.open_as("alice", "/orchestrate")
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    _switch_to_hebrew(page)
    expect(page.locator("h2#executions-heading")).to_have_text("הרצות")
    for name, path in (
        ("console", "/orchestrate"),
        ("execution", f"/orchestrate/executions/{execution.pk}/"),
        ("outbox", "/orchestrate/outbox/"),
        ("calendar", "/orchestrate/calendar/"),
        ("approvals", "/approvals/"),
        ("monitoring", "/monitoring/"),
        ("logs", "/monitoring/logs/"),
        ("workspaces", "/workspaces/"),
        ("workspace", f"/workspaces/{workspace_a.pk}/"),
        ("leave", f"/workspaces/{workspace_a.pk}/leave/"),
        ("remove-member", f"/workspaces/{workspace_a.pk}/members/{member.pk}/remove/"),
        ("webhooks", "/webhooks/"),
        ("webhook", f"/webhooks/{webhook.webhook.pk}/"),
        ("tokens", "/tokens/"),
        ("tools", "/tools/"),
        ("plugins", "/plugins/"),
        ("mcp-servers", "/mcp-servers/"),
        ("learning", "/learning/"),
        ("prompts", "/learning/prompts/"),
        ("plan-versions", f"/plans/{execution.pk}/"),
    ):
        page.goto(path)
        _check_and_shoot(page, name)

    # Remembered for alice: a new browser, signing in, is in Hebrew at once.
    again = pages.new_context().new_page()
    again.goto("/accounts/login/")
    again.fill("#id_username", "alice")
    again.fill("#id_password", "password")
    again.press("#id_password", "Enter")
    expect(again.locator("html")).to_have_attribute("dir", "rtl")
    # The login page speaks the browser's language to a visitor.
    visitor = pages.browser.new_context(base_url=pages.server.url, locale="he-IL")
    pages.contexts.append(visitor)
    login_page = visitor.new_page()
    login_page.goto("/accounts/login/")
    _check_and_shoot(login_page, "login")


def test_it_runs_a_hebrew_request_and_books_the_event_at_ten_tomorrow(pages, alice, workspace_a, tmp_path):
    page = pages.open_as("alice", "/orchestrate")
    _switch_to_hebrew(page)
    for name, text in (("sales_q1.csv", SALES_Q1), ("sales_q2.csv", SALES_Q2)):
        (tmp_path / name).write_text(text)
    page.set_input_files("#id_files", [str(tmp_path / "sales_q1.csv"), str(tmp_path / "sales_q2.csv")])
    page.locator("#upload-form button[type=submit]").click()
    expect(page.locator("#drive")).to_contain_text("sales_q2.csv")

    page.fill("#id_request", HEBREW_REQUEST)
    page.locator("#submit-form button[value=run]").click()
    expect(page).to_have_url(re.compile(r"/orchestrate/executions/"))
    run = wait_for(Execution.objects.filter(user=alice).latest("created_at"), timeout=60)
    assert run.status == ExecutionStatus.SUCCEEDED, run.error
    steps = list(run.steps.order_by("step_number"))
    assert [step.tool for step in steps] == ["drive.search", "analysis.describe", "calendar.create_event"]
    expect(page.locator("#execution-status")).to_have_attribute("data-status", "succeeded")
    expect(page.locator("#plan")).to_contain_text("קביעת האירוע")  # "Book the event"
    _check_and_shoot(page, "hebrew-run")

    page.goto("/orchestrate/calendar/")
    expect(page.locator("#calendar-events")).to_contain_text("פגישת סקירה")
    feed = page.request.get(page.locator("#feed-url").get_attribute("href"))
    assert feed.ok
    [event] = icalendar.Calendar.from_ical(feed.body()).walk("VEVENT")
    tomorrow_10 = datetime.combine(datetime.now(UTC).date() + timedelta(days=1), time(10, 0), tzinfo=UTC)
    assert event.decoded("DTSTART") == tomorrow_10
    assert str(event["SUMMARY"]) == "פגישת סקירה"
