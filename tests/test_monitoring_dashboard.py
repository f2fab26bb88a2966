"""The /monitoring/ dashboard: figures of the user's workspaces only, in the chosen range, at a fixed query count."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from monitoring import dashboard, rollups
from monitoring.models import Log
from orchestration.models import ExecutionStatus, StepStatus
from safety.models import ApprovalStatus, PendingApproval
from tests.factories.orchestration import ExecutionFactory, ExecutionStepFactory

URL = "/monitoring/"


def _run(workspace, status=ExecutionStatus.SUCCEEDED, *, ago=timedelta(minutes=10), steps=()):
    execution = ExecutionFactory(workspace=workspace, status=status)
    type(execution).objects.filter(pk=execution.pk).update(created_at=timezone.now() - ago)
    for number, (tool, agent, step_status, duration, tokens, cached, error) in enumerate(steps, start=1):
        ExecutionStepFactory(
            execution=execution,
            step_number=number,
            tool=tool,
            agent_id=agent,
            status=step_status,
            duration_ms=duration,
            tokens_used=tokens,
            cached=cached,
            error=error,
            completed_at=timezone.now() - ago + timedelta(seconds=1),
        )
    return execution


def _ok(tool, duration, *, tokens=0, cached=False, agent="analysis"):
    return (tool, agent, StepStatus.SUCCEEDED, duration, tokens, cached, "")


def _failed(tool, error, agent="drive"):
    return (tool, agent, StepStatus.FAILED, 5, 0, False, error)


def test_it_counts_runs_by_status_success_rate_and_runs_in_flight(workspace_a):
    for _ in range(3):
        _run(workspace_a)
    _run(workspace_a, ExecutionStatus.FAILED)
    _run(workspace_a, ExecutionStatus.RUNNING)
    _run(workspace_a, ExecutionStatus.WAITING_APPROVAL)
    _run(workspace_a, ago=timedelta(days=2))  # outside the last 24 hours

    board = dashboard.build([workspace_a.pk], "24h")

    assert board.totals == {"succeeded": 3, "failed": 1, "running": 1, "waiting_approval": 1}
    assert board.success_rate == pytest.approx(3 / 4)
    assert board.error_rate == pytest.approx(1 / 4)
    assert board.in_flight == {"running": 1, "waiting_approval": 1}
    assert sum(counts.get("succeeded", 0) for counts in board.runs.values()) == 3
    assert dashboard.build([workspace_a.pk], "7d").totals["succeeded"] == 4


def test_it_reads_only_the_workspaces_it_is_given(workspace_a, workspace_b):
    _run(workspace_a)
    _run(workspace_b, ExecutionStatus.FAILED, steps=[_failed("drive.read", "B's secret error")])

    board = dashboard.build([workspace_a.pk])

    assert board.totals == {"succeeded": 1}
    assert board.top_errors == []


def test_it_computes_step_percentiles_cache_ratio_tokens_and_top_errors(workspace_a):
    _run(workspace_a, steps=[_ok("analysis.describe", ms, tokens=10) for ms in (100, 200, 300, 400)])
    _run(
        workspace_a,
        steps=[
            _ok("analysis.describe", 5000, tokens=10),
            _ok("drive.search", 30, agent="drive"),
            _ok("drive.search", 0, cached=True, agent="drive"),
        ],
    )
    _run(workspace_a, ExecutionStatus.FAILED, steps=[_failed("drive.read", "file not found: q3.csv")] * 2)

    board = dashboard.build([workspace_a.pk])

    tools = {t.tool: t for t in board.tools}
    # Nearest rank over 100, 200, 300, 400, 5000: the median is 300, the 95th percentile 5000.
    assert (tools["analysis.describe"].p50_ms, tools["analysis.describe"].p95_ms) == (300, 5000)
    assert tools["analysis.describe"].max_ms == 5000
    assert board.tools[0].tool == "analysis.describe"  # slowest first
    # The cached step is a hit and is not timed.
    assert (tools["drive.search"].p50_ms, tools["drive.search"].cached) == (30, 1)
    assert board.cache_hit_ratio == pytest.approx(1 / 7)
    assert board.tokens_by_agent == {"analysis": 50}
    assert sum(board.tokens_by_bucket.values()) == 50
    assert board.top_errors == [("drive.read", "file not found: q3.csv", 2)]


def test_it_reports_approvals_waiting_and_throttles(workspace_a):
    execution = _run(workspace_a, ExecutionStatus.WAITING_APPROVAL)
    now = timezone.now()
    waiting = PendingApproval.objects.create(execution=execution, action_type="email.send", reason="critical")
    PendingApproval.objects.filter(pk=waiting.pk).update(created_at=now - timedelta(minutes=30))
    decided = PendingApproval.objects.create(execution=_run(workspace_a), action_type="web.post", reason="critical")
    PendingApproval.objects.filter(pk=decided.pk).update(
        created_at=now - timedelta(minutes=10), resolved_at=now - timedelta(minutes=8), status=ApprovalStatus.APPROVED
    )
    for _ in range(2):
        Log.objects.create(
            execution=execution,
            source="orchestration.engine.gates",
            level="INFO",
            message="Step 1 waits for rate limit test.call: 2 per 2s, next window in 1s",
            timestamp=now - timedelta(minutes=5),
        )

    board = dashboard.build([workspace_a.pk], "1h")

    assert board.approvals_waiting == 1
    assert board.oldest_waiting_seconds == pytest.approx(1800, abs=30)
    assert board.approvals_decided == 1
    assert board.average_decision_seconds == pytest.approx(120, abs=1)
    assert board.throttle_count == 2


def test_it_renders_labelled_charts_with_text_alternatives(client, alice, workspace_a):
    _run(workspace_a, steps=[_ok("analysis.describe", 250, tokens=40)])
    client.force_login(alice)

    page = client.get(URL).content.decode()

    for chart in ("chart-runs", "chart-errors", "chart-step-durations", "chart-slowest-tools", "chart-tokens"):
        figure = re.search(rf'<figure id="{chart}".*?</figure>', page, re.S)
        assert figure, chart
        svg = figure.group(0)
        assert 'role="img"' in svg
        assert re.search(r"<title id=\"[^\"]+\">[^<]+</title>", svg)
        assert re.search(r"<desc id=\"[^\"]+\">[^<]+</desc>", svg)
        assert "<summary>Data table</summary>" in svg
    assert "1 runs in the last 24 hours: 1 succeeded." in page
    assert "analysis.describe p50 250 ms, p95 250 ms" in page
    assert "<script" not in page.split("</head>", 1)[1]  # no inline scripts in the body


def test_it_shows_one_workspace_when_picked_and_refuses_anothers(client, alice, charlie, workspace_a, workspace_b):
    _run(workspace_a)
    _run(workspace_b, ExecutionStatus.FAILED)
    client.force_login(charlie)

    own = client.get(URL, {"workspace": str(workspace_b.pk), "range": "7d"}).content.decode()
    assert 'id="tile-runs"' in own
    assert "1 runs in the last 7 days: 1 failed." in own

    foreign = client.get(URL, {"workspace": str(workspace_a.pk)})
    assert foreign.status_code == 200
    text = foreign.content.decode()
    assert "not one you can choose" in text
    assert "1 runs in the last 24 hours: 1 failed." in text  # still only B's
    assert re.search(r'id="tile-success-rate".*?0 of 1 finished', text, re.S)


def test_it_answers_the_htmx_poll_with_the_panels_only(client, alice, workspace_a):
    client.force_login(alice)

    response = client.get(URL, {"range": "1h"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="dashboard-panels")

    body = response.content.decode()
    assert body.startswith('<div id="dashboard-panels"')
    assert 'hx-trigger="every 5s"' in body
    assert "<html" not in body


def test_it_sends_anonymous_visitors_to_log_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("range_key", list(dashboard.RANGES))
def test_it_reads_the_dashboard_with_the_same_number_of_queries_for_any_amount_of_data(workspace_a, range_key):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            dashboard.build([workspace_a.pk], range_key)
        return len(captured)

    _run(workspace_a, steps=[_ok("analysis.describe", 10)], ago=timedelta(hours=3))
    rollups.roll_window(timezone.now() - dashboard.RANGES[range_key].span, timezone.now())
    few = queries()
    for index in range(15):
        _run(
            workspace_a,
            ExecutionStatus.FAILED if index % 3 else ExecutionStatus.SUCCEEDED,
            ago=timedelta(minutes=index),
            steps=[_ok("analysis.describe", 10 * index, tokens=index), _failed("drive.read", f"error {index}")],
        )
    # Whole hours come from rollups, the rest from the rows: the same queries for any amount of data.
    rollups.roll_window(timezone.now() - dashboard.RANGES[range_key].span, timezone.now())
    assert queries() == few
