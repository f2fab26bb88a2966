"""The console in a real Chromium, served by a real daphne on the test database.

- `server`: `python -m daphne ... config.asgi:application` on a free port,
  with DATABASE_URL pointing at the pytest database and the test process's
  MEDIA_ROOT, extra tools and queue. In the embedded mode that process runs
  the steps of the runs submitted through it; with REDIS_URL (the celery pass)
  it hands them to the session's Celery worker (`engine` fixture). Tests use
  `transactional_db`, so what they create is committed and daphne sees it.
- `browser`: one Chromium (Debian's, Playwright cannot download its own
  offline) for the browser tests; `open_as(username)` gives a logged-in page
  in a context of its own per user.
- Every page is watched for requests to other hosts, and screenshotted into
  test-artifacts/ when its test fails.

Playwright's sync API keeps an asyncio loop running on the main thread, so
Django's ORM would refuse to run there: DJANGO_ALLOW_ASYNC_UNSAFE is set for
this package's tests (this process only), and the browser lives only as long
as the package, so the rest of the suite runs without that loop.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from playwright.sync_api import Browser

from tests.browser.helpers import ROOT, TRACK_SOCKETS, login
from tests.support.engine import database_url, redis_url
from tests.support.polling import eventually

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"
TIMEOUT_MS = 15_000


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test, for fixtures that act on failure."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _failed(node: pytest.Item) -> bool:
    report = getattr(node, "rep_call", None)
    return bool(report is not None and report.failed)


def _artifact_name(node: pytest.Item) -> str:
    return re.sub(r"[^\w.-]+", "_", node.name)


@pytest.fixture(scope="package", autouse=True)
def _orm_beside_playwright(session_worker):
    """The ORM on the main thread beside Playwright's loop; set after the worker started, not inherited by it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


class QuickPBKDF2(PBKDF2PasswordHasher):
    """PBKDF2 as the server knows it, with few rounds: the server checks the stored count."""

    iterations = 1000


@pytest.fixture(autouse=True)
def _passwords_the_server_can_check(settings):
    # tests/conftest.py hashes with MD5 for speed; the server has only the default hashers.
    settings.PASSWORD_HASHERS = ["tests.browser.conftest.QuickPBKDF2"]


@dataclass
class Server:
    url: str
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)

    def ws_url(self, path: str) -> str:
        return "ws" + self.url.removeprefix("http") + path

    def log(self) -> str:
        return "".join(self.output)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(server: Server, port: int, timeout: float = 30.0) -> None:
    def listening() -> bool:
        if server.process.poll() is not None:
            raise AssertionError(f"daphne exited before listening on {port}:\n{server.log()[-4000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
        return False

    eventually(listening, what=f"daphne to listen on {port}", timeout=timeout, explain=lambda: server.log()[-4000:])


@pytest.fixture
def server_env() -> dict[str, str]:
    """Extra environment for the daphne process; a test module overrides this fixture to set some."""
    return {}


@pytest.fixture
def server(engine, request, server_env) -> Iterator[Server]:
    """A daphne process serving this test's database; stopped before the tables are flushed."""
    port = _free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DEBUG": "false",
        "ORCHESTRATE_LOG_FLUSHER": "1",
        "ORCHESTRATE_TELEMETRY_FLUSHER": "1",
        # A server sweeps, as under `make run` (tests/environment.py turns it off for the test
        # process), and picks up steps the test process handed over (helpers.submit_in_server) quickly.
        "ORCHESTRATE_EMBEDDED_SWEEPER": "true",
        "ORCHESTRATE_SWEEP_SECONDS": "0.5",
        "ORCHESTRATE_RETRY_BACKOFF": "0.2",
        "ORCHESTRATE_LEASE_SECONDS": "5",
    }
    environment.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    if engine == "celery":
        environment["REDIS_URL"] = redis_url()
    environment.update(server_env)
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    live = Server(url=f"http://127.0.0.1:{port}", process=process)

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            live.output.append(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        _wait_for_port(live, port)
        yield live
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        if _failed(request.node):
            ARTIFACTS.mkdir(exist_ok=True)
            (ARTIFACTS / f"{_artifact_name(request.node)}-server.log").write_text(live.log())


@pytest.fixture(scope="package")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: run `make browser` as root, or `apt-get install chromium`")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
    finally:
        playwright.stop()


@dataclass
class Pages:
    """The browser contexts and pages of one test, and every request they made."""

    server: Server
    browser: Browser
    contexts: list = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    # Console errors Chromium reports when the Content-Security-Policy blocks something.
    csp_violations: list[str] = field(default_factory=list)

    def new_context(self):
        context = self.browser.new_context(base_url=self.server.url, viewport={"width": 1280, "height": 800})
        context.add_init_script(TRACK_SOCKETS)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        context.on("request", lambda req: self.requests.append(req.url))
        context.on("page", self._watch_console)
        self.contexts.append(context)
        return context

    def _watch_console(self, page) -> None:
        def note(message) -> None:
            if "Content Security Policy" in message.text:
                self.csp_violations.append(f"{page.url}: {message.text}")

        page.on("console", note)

    def open_as(self, username: str, path: str | None = None):
        """A new context (its own cookies) with one page, logged in as the user."""
        page = self.new_context().new_page()
        login(page, username)
        if path is not None:
            page.goto(path)
        return page

    def foreign_requests(self) -> list[str]:
        origin = self.server.url + "/"
        return [url for url in self.requests if not url.startswith((origin, "data:", "blob:", "about:"))]


@pytest.fixture
def pages(server, browser, request) -> Iterator[Pages]:
    book = Pages(server=server, browser=browser)
    yield book
    if _failed(request.node):
        ARTIFACTS.mkdir(exist_ok=True)
        shots = (page for context in book.contexts for page in context.pages)
        for number, page in enumerate(shots, start=1):
            with contextlib.suppress(Exception):  # a crashed page must not hide the test's own failure
                page.screenshot(
                    path=str(ARTIFACTS / f"{_artifact_name(request.node)}-{number}.png"),
                    full_page=True,
                    caret="initial",
                )
    for context in book.contexts:
        context.close()
    assert not book.foreign_requests(), f"pages requested other hosts: {book.foreign_requests()}"
    assert not book.csp_violations, f"the Content-Security-Policy blocked: {book.csp_violations}"


@pytest.fixture
def open_as(pages) -> Callable[..., object]:
    return pages.open_as
