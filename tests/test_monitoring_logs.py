"""The logs page: search and filters over the user's workspaces, keyset pages, live tail."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from monitoring import logsearch
from monitoring.models import Log
from tests.factories.orchestration import ExecutionFactory

URL = "/monitoring/logs/"


def _log(execution, message, *, level="INFO", source="orchestration.engine.steps", ago=timedelta(0)):
    return Log.objects.create(
        execution=execution, source=source, level=level, message=message, timestamp=timezone.now() - ago
    )


@pytest.fixture
def runs(workspace_a, workspace_b):
    return ExecutionFactory(workspace=workspace_a, request="alpha run"), ExecutionFactory(workspace=workspace_b)


def _messages(response) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'<td class="log-message">([^<]*)</td>', response.content.decode())]


def test_it_filters_by_level_source_text_execution_and_time(client, alice, runs, workspace_a):
    run_a, _ = runs
    other_a = ExecutionFactory(workspace=workspace_a)
    _log(run_a, "Step 1 started")
    _log(run_a, "Step 1 failed: disk full", level="ERROR")
    _log(run_a, "Lock wait", level="WARNING", source="safety.locks")
    _log(other_a, "Other run line")
    _log(run_a, "Yesterday's line", ago=timedelta(days=1))
    client.force_login(alice)

    assert _messages(client.get(URL, {"level": "WARNING"})) == ["Lock wait", "Step 1 failed: disk full"]
    assert _messages(client.get(URL, {"source": "safety"})) == ["Lock wait"]
    assert _messages(client.get(URL, {"q": "DISK"})) == ["Step 1 failed: disk full"]
    assert _messages(client.get(URL, {"execution": str(other_a.pk)})) == ["Other run line"]
    since = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    assert "Yesterday's line" not in _messages(client.get(URL, {"since": since}))
    assert len(_messages(client.get(URL))) == 5


def test_it_shows_only_the_users_workspaces(client, charlie, runs):
    run_a, run_b = runs
    _log(run_a, "A's secret")
    _log(run_b, "B's line")
    client.force_login(charlie)

    assert _messages(client.get(URL)) == ["B's line"]
    assert _messages(client.get(URL, {"execution": str(run_a.pk)})) == []
    assert _messages(client.get(URL, {"workspace": str(run_a.workspace_id)})) == []  # not a choice: an error


def test_it_explains_bad_filters_instead_of_failing(client, alice, runs):
    client.force_login(alice)

    response = client.get(
        URL, {"execution": "not-a-uuid", "level": "LOUD", "since": "2026-01-02T00:00", "until": "2026-01-01T00:00"}
    )

    assert response.status_code == 400
    text = response.content.decode()
    assert "Enter a valid UUID." in text
    assert "Select a valid choice." in text
    assert "Until must be after From." in text


def test_it_pages_with_a_constant_number_of_queries(client, alice, runs):
    run_a, _ = runs
    for number in range(logsearch.PAGE_SIZE * 2 + 5):
        _log(run_a, f"line {number:03d}")
    client.force_login(alice)
    client.get(URL)  # the session and user are cached after the first request

    with CaptureQueriesContext(connection) as first_page:
        first = client.get(URL)
    older = re.search(r'id="log-older" href="\?([^"]+)"', first.content.decode()).group(1).replace("&amp;", "&")
    with CaptureQueriesContext(connection) as second_page:
        second = client.get(f"{URL}?{older}")

    assert _messages(first)[0] == "line 104"
    assert _messages(second)[0] == f"line {104 - logsearch.PAGE_SIZE:03d}"
    assert len(first_page) == len(second_page)
    assert not set(_messages(first)) & set(_messages(second))


def test_it_tails_new_lines_after_the_cursor(client, alice, charlie, runs):
    run_a, run_b = runs
    seen = _log(run_a, "already shown")
    client.force_login(alice)
    page = client.get(URL, {"follow": "1", "level": "INFO"}).content.decode()
    assert 'id="log-tail"' in page
    tail_url = re.search(r'hx-get="([^"]+)"', page[page.index('id="log-tail"') - 200 :]).group(1).replace("&amp;", "&")
    assert f"after={seen.pk}" in tail_url

    _log(run_a, "new line")
    _log(run_a, "debug noise", level="DEBUG")
    _log(run_b, "B's new line")
    update = client.get(tail_url, HTTP_HX_REQUEST="true").content.decode()

    assert re.findall(r'<td class="log-message">([^<]*)</td>', update) == ["new line"]
    assert 'hx-swap-oob="afterbegin:#log-rows"' in update
    next_url = re.search(r'hx-get="([^"]+)"', update).group(1).replace("&amp;", "&")
    assert client.get(next_url).content.decode().count("log-message") == 0


def test_it_refuses_a_tail_without_a_cursor(client, alice):
    client.force_login(alice)
    assert client.get("/monitoring/logs/tail", {"after": "x"}).status_code == 400
