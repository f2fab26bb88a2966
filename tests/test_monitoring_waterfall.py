"""The trace waterfall on the execution page: spans on one time axis, the longest step marked."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring import waterfall
from monitoring.models import Trace
from safety.models import ApprovalStatus, PendingApproval
from tests.factories.orchestration import ExecutionFactory


def _span(execution, name, start_ms, duration_ms, parent=None, status="ok", **metadata):
    origin = timezone.now() - timedelta(seconds=60)
    return Trace.objects.create(
        execution=execution,
        parent_span=parent,
        name=name,
        started_at=origin + timedelta(milliseconds=start_ms),
        ended_at=origin + timedelta(milliseconds=start_ms + duration_ms),
        duration_ms=duration_ms,
        status=status,
        metadata=metadata,
    )


@pytest.fixture
def slow_run(workspace_a):
    execution = ExecutionFactory(workspace=workspace_a, status="succeeded")
    root = _span(execution, "execution", 0, 5000)
    _span(execution, "plan", 5, 40, root, planner="rules")
    _span(execution, "step 1: drive.search", 50, 120, root)
    _span(execution, "step 2: test.sleep", 180, 3000, root, status="error", error="timeout")
    _span(execution, "step 2: test.sleep", 3300, 1500, root)
    approval = PendingApproval.objects.create(
        execution=execution, action_type="email.send", reason="critical", status=ApprovalStatus.APPROVED
    )
    PendingApproval.objects.filter(pk=approval.pk).update(
        created_at=root.started_at + timedelta(milliseconds=4800),
        resolved_at=root.started_at + timedelta(milliseconds=4900),
    )
    return execution


def test_it_lays_out_the_span_tree_and_marks_the_longest_step(slow_run):
    chart = waterfall.build(slow_run.pk)

    assert [(bar.label, bar.depth) for bar in chart.bars] == [
        ("execution", 0),
        ("plan", 1),
        ("step 1: drive.search", 1),
        ("step 2: test.sleep", 1),
        ("step 2: test.sleep (attempt 2)", 1),
        ("approval: email.send", 1),
    ]
    assert chart.bottleneck.label == "step 2: test.sleep"
    steps = [bar for bar in chart.bars if bar.kind == "step"]
    assert max(steps, key=lambda bar: bar.width) is chart.bottleneck
    assert chart.bars[3].status == "error"
    assert chart.bars[-1].kind == "approval"
    assert chart.bars[-1].duration_ms == pytest.approx(100, abs=1)
    assert chart.total_ms == pytest.approx(5000, abs=1)
    assert "Longest step: step 2: test.sleep, 3k ms (60% of the run)." in chart.description


def test_it_shows_the_waterfall_on_the_execution_page(client, alice, slow_run):
    client.force_login(alice)

    page = client.get(f"/orchestrate/executions/{slow_run.pk}/").content.decode()

    section = re.search(r'<section id="waterfall".*?</section>', page, re.S).group(0)
    assert 'role="img"' in section
    assert "hx-trigger" not in section  # the run has ended: nothing to poll for
    assert section.count('class="wf-bar') == 6
    assert re.search(r'class="wf-bar wf-step wf-status-error wf-bottleneck"[^>]*data-duration-ms="3000"', section)
    assert "&quot;planner&quot;: &quot;rules&quot;" in section  # metadata in the details table


def test_it_polls_while_a_span_is_open_and_hides_the_run_from_others(client, alice, charlie, workspace_a):
    execution = ExecutionFactory(workspace=workspace_a, status="running")
    Trace.objects.create(execution=execution, name="execution", started_at=timezone.now())
    client.force_login(alice)

    fragment = client.get(f"/monitoring/executions/{execution.pk}/waterfall").content.decode()
    assert 'hx-trigger="every 5s"' in fragment
    assert "open" in fragment

    client.force_login(charlie)
    assert client.get(f"/monitoring/executions/{execution.pk}/waterfall").status_code == 404
