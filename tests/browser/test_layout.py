"""Pages work with the keyboard alone and fit a phone's width."""

from __future__ import annotations

import re

import pytest

from plugins.sync import sync_plugins
from tests.browser.helpers import step_plan, submit_in_server
from tools.discovery import discover_tools

pytestmark = pytest.mark.browser

EXECUTION_URL = re.compile(r"/orchestrate/executions/([0-9a-f-]{36})/$")


def _tab_to(page, predicate: str, limit: int = 40) -> None:
    """Press Tab until the focused element satisfies the JS predicate (given `el`)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(() => {{ const el = document.activeElement; return !!({predicate}); }})()"):
            return
    raise AssertionError(f"Tab never reached an element where {predicate}")


def test_it_submits_a_request_with_the_keyboard_alone(pages, alice, workspace_a):
    page = pages.open_as("alice", "/orchestrate")
    _tab_to(page, "el.name === 'request'")
    page.keyboard.type("make me a sandwich")
    _tab_to(page, "el.tagName === 'BUTTON' && el.textContent.trim() === 'Run'")
    page.keyboard.press("Enter")
    page.wait_for_url(EXECUTION_URL)
    page.wait_for_selector('#execution-status[data-status="failed"]')
    assert "No tool can serve this request" in page.locator("#error").inner_text()


@pytest.mark.parametrize(
    "path", ["/orchestrate", "execution", "/approvals/", "/workspaces/", "workspace", "/tools/", "/plugins/"]
)
def test_it_fits_a_phone_screen_without_sideways_scrolling(pages, alice, workspace_a, path):
    execution = submit_in_server(
        user=alice, workspace=workspace_a, request_text="a long request " * 20, plan=step_plan({"tool": "test.noop"})
    )
    if path in ("/tools/", "/plugins/"):
        discover_tools()  # the browser tests' database is flushed between tests
        sync_plugins()
    target = {
        "execution": f"/orchestrate/executions/{execution.pk}/",
        "workspace": f"/workspaces/{workspace_a.pk}/",
    }.get(path, path)
    context = pages.browser.new_context(base_url=pages.server.url, viewport={"width": 375, "height": 740})
    pages.contexts.append(context)
    page = context.new_page()
    page.goto("/accounts/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/orchestrate$"))
    page.goto(target)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{target} is {overflow}px wider than a 375px screen"
