"""What the browser tests do to pages, and how they hand work to the server under test."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from playwright.sync_api import Locator, Page, expect

from orchestration.engine.runs import submit
from orchestration.models import Execution

ROOT = Path(__file__).resolve().parents[2]
# Screenshots of the pages go to a build folder on every run; `make screenshots` points this at
# docs/screenshots/ to refresh the ones the docs show, so a test run never rewrites tracked files.
SCREENSHOTS = Path(os.environ.get("ORCHESTRATE_SCREENSHOTS_DIR") or ROOT / "test-artifacts" / "screenshots")
PASSWORD = "password"  # what tests/factories gives every user
XSS = "<script>window.__xss=1</script><b>bold</b>"
MARK = "window.__noReload"
T = TypeVar("T")


# Records every websocket the page opens and whether it is open now: live
# updates only count once the page listens, and a test must not race them.
TRACK_SOCKETS = """
(() => {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      const record = {path: new URL(String(url), location.href).pathname, open: false};
      window.__sockets.push(record);
      this.addEventListener("open", () => { record.open = true; });
      this.addEventListener("close", () => { record.open = false; });
    }
  };
})();
"""


def wait_for_socket(page: Page, path: str) -> None:
    """Wait until the page has an open websocket to `path` (e.g. /ws/executions/)."""
    page.wait_for_function("p => (window.__sockets || []).some(s => s.open && s.path === p)", arg=path)


def login(page: Page, username: str, password: str = PASSWORD) -> None:
    """Sign in through the real form and land on the console."""
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))


def mark_page(page: Page) -> None:
    """Put a marker on the window: it survives live updates, never a reload or a navigation."""
    page.evaluate(f"{MARK} = true")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate(f"{MARK} === true"), "the page was reloaded or navigated away"


def screenshot_for_docs(page: Page, name: str) -> Path:
    """<SCREENSHOTS>/<name>.png: the whole page, 1280 pixels wide (docs/screenshots/ via `make screenshots`)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size or {"height": 800}
    page.set_viewport_size({"width": 1280, "height": size["height"]})
    path = SCREENSHOTS / f"{name}.png"
    # Playwright hides the caret and stops animations by injecting a style element, which the
    # Content-Security-Policy blocks (a console error the `pages` fixture fails on): neither here.
    page.screenshot(path=str(path), full_page=True, animations="allow", caret="initial")
    return path


def off_the_loop(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call on a thread of its own: Playwright's loop on the main thread would make
    Channels' async_to_sync (used to publish progress events) refuse to run."""
    from django.db import connection

    def call() -> T:
        try:
            return function(*args, **kwargs)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


def submit_in_server(**kwargs: Any) -> Execution:
    """`runs.submit` from the test process, with the steps run where the server's events go.

    With Celery the worker runs them and its events reach the server over
    Redis. In the embedded mode the test process would run them itself and
    its progress events would stay in its own in-memory channel layer, so it
    plans the run only and leaves the ready steps unsent, as the `approvals`
    command does: the server's sweeper sends them to its own workers.
    """
    if settings.ORCHESTRATE_RUN_MODE == "celery":
        return off_the_loop(submit, **kwargs)
    from orchestration.engine.dispatch import handed_off_to_workers
    from orchestration.engine.embedded import runtime

    with handed_off_to_workers():
        execution = off_the_loop(submit, **kwargs)
        assert runtime().wait_idle(15), "planning did not finish"
    return execution


def step_plan(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"steps": [{"number": number, **step} for number, step in enumerate(steps, start=1)]}


def page_shows_text_not_markup(page: Page, text: str = XSS) -> None:
    """The text is on the page as characters; none of it became elements or ran."""
    assert page.evaluate("typeof window.__xss") == "undefined", "the injected script ran"
    assert text in page.evaluate("document.body.innerText"), "the request text is not shown"
    planted = page.evaluate(
        """() => ({
            scripts: [...document.querySelectorAll('script')].filter(s => s.textContent.includes('__xss')).length,
            bold: [...document.querySelectorAll('b')].filter(b => b.textContent === 'bold').length,
        })"""
    )
    assert planted == {"scripts": 0, "bold": 0}, f"the request text became markup: {planted}"


def assert_legible(locator: Locator) -> None:
    """Each matched element's text is drawn in a colour other than its background's."""
    for element in locator.all():
        colours = element.evaluate(
            "e => { const s = getComputedStyle(e);"
            " return {text: e.innerText, color: s.color, background: s.backgroundColor}; }"
        )
        assert colours["color"] != colours["background"], f"text drawn in its background's colour: {colours}"
