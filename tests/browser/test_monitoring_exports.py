"""Exports to tools no one here wrote: a real Prometheus scrapes /metrics, a real OTLP receiver gets the spans.

Both talk to a real daphne serving the test database; in the celery pass the
runs finish in Celery worker processes, so the counters Prometheus reads were
added up across processes (PROMETHEUS_MULTIPROC_DIR, set for every process
the tests start in tests/environment.py).
"""

from __future__ import annotations

import re
import secrets
import time
import urllib.error
import urllib.request

import pytest

from monitoring.models import Trace
from orchestration.models import Execution
from tests.browser.helpers import step_plan, submit_in_server
from tests.support.engine import CeleryProcess, wait_for
from tools.drive import WorkspaceDrive

TOKEN = secrets.token_urlsafe(24)
EXECUTION_URL = re.compile(r"/orchestrate/executions/([0-9a-f-]{36})/$")


@pytest.fixture
def server_env(request):
    if request.node.get_closest_marker("browser"):  # the OTLP test: see otlp_env below
        return request.getfixturevalue("otlp_env")
    # /metrics only with the token: no address is allowed without it.
    return {"ORCHESTRATE_METRICS_ALLOW": "", "ORCHESTRATE_METRICS_TOKEN": TOKEN}


def _scrape(url: str, token: str | None) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.services
def test_it_lets_prometheus_scrape_the_runs_it_made(server, prometheus_server, alice, workspace_a):
    metrics_url = f"{server.url}/metrics"
    assert _scrape(metrics_url, None) == 401
    assert _scrape(metrics_url, "wrong") == 401
    assert _scrape(metrics_url, TOKEN) == 200

    prometheus = prometheus_server(server.url.removeprefix("http://"), TOKEN)
    prometheus.wait_for('up{job="orchestrate"}', 1)
    finished = 'sum(orchestrate_runs_finished_total{status="succeeded"}) or vector(0)'
    steps = 'sum(orchestrate_step_duration_seconds_count{tool="test.noop"}) or vector(0)'
    # Counters live as long as the processes that count: compare with what they said before the runs.
    before_runs, before_steps = prometheus.value(finished), prometheus.value(steps)

    plan = step_plan({"tool": "test.noop", "input": {"value": 1}}, {"tool": "test.noop", "depends_on": [1]})
    runs = [
        submit_in_server(user=alice, workspace=workspace_a, request_text=f"count me {n}", plan=plan) for n in range(3)
    ]
    for run in runs:
        assert wait_for(run).status == "succeeded"

    prometheus.wait_for(finished, before_runs + 3)
    prometheus.wait_for(steps, before_steps + 6)
    # Read from the tables at scrape time: exactly this test's runs (the database is emptied between tests).
    prometheus.wait_for('orchestrate_runs{status="succeeded"}', 3)
    prometheus.wait_for("orchestrate_queue_depth", 0)
    assert prometheus.value('sum(orchestrate_http_requests_total{method="GET",status="200"})') >= 1


@pytest.fixture
def otlp_env(phoenix, engine):
    """Where spans go. In the celery pass a worker of this test's own runs the steps with the exporter on."""
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": phoenix.url, "OTEL_BSP_SCHEDULE_DELAY": "200"}
    if engine != "celery":
        yield env
        return
    queue = f"orchestrate-otel-{secrets.token_hex(4)}"
    worker = CeleryProcess("worker", ORCHESTRATE_QUEUE=queue, **env)
    yield {**env, "ORCHESTRATE_QUEUE": queue}
    worker.stop()


@pytest.mark.browser
def test_it_exports_a_runs_spans_over_otlp_with_their_parents(pages, phoenix, alice, workspace_a, engine):
    drive = WorkspaceDrive(workspace_a.pk)
    drive.write_text("sales_q1.csv", "region,revenue\nnorth,1200\nsouth,800\n")
    page = pages.open_as("alice", "/orchestrate")
    page.locator("#submit-form textarea[name=request]").fill("summarise the sales CSV files and write a report")
    page.locator("#submit-form").get_by_role("button", name="Run", exact=True).click()
    page.wait_for_url(EXECUTION_URL)
    execution = wait_for(EXECUTION_URL.search(page.url).group(1))
    assert execution.status == "succeeded", execution.error

    rows = {row.pk: row for row in Trace.objects.filter(execution=execution)}
    names = sorted(row.name for row in rows.values())
    assert names == ["execution", "plan", "step 1: drive.search", "step 2: analysis.describe", "step 3: report.compose"]

    received = _wait_for_spans(phoenix, execution, len(rows))
    by_id = {span["context"]["span_id"]: span for span in received}
    for row in rows.values():
        span = by_id[row.pk.hex[-16:]]  # the span id is the row id's low 64 bits
        assert span["name"] == row.name
        assert span["attributes"]["orchestrate.span_id"] == str(row.pk)
        expected_parent = row.parent_span_id.hex[-16:] if row.parent_span_id else None
        assert span["parent_id"] == expected_parent, row.name
    root = next(span for span in received if span["name"] == "execution")
    assert root["parent_id"] is None
    assert {by_id[s["parent_id"]]["name"] for s in received if s["parent_id"]} == {"execution"}

    # The instrumented request that submitted the run, and in the celery pass the worker's tasks.
    everything = phoenix.all_spans()
    assert any(s["name"].startswith("POST") for s in everything), [s["name"] for s in everything]
    if engine == "celery":
        assert any(s["name"].startswith("run/orchestration.") for s in everything), [s["name"] for s in everything]


def _wait_for_spans(phoenix, execution: Execution, count: int, timeout: float = 30.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    received: list[dict] = []
    while time.monotonic() < deadline:
        received = phoenix.spans(execution.pk.hex)  # the trace id is the execution id
        if len(received) >= count:
            return received
        time.sleep(0.5)
    raise AssertionError(f"Phoenix has {len(received)} of {count} spans of the run: {received}")
