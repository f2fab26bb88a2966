"""A step's row, built in Python (orchestration/step_rows.py): escaped, and the same on the page as live."""

from __future__ import annotations

import re

import pytest
from django.utils import translation

from orchestration.consumers import render_step_row
from orchestration.engine.outputs import STORED
from orchestration.events import step_event
from orchestration.fragments import STEPS, render_execution_parts
from orchestration.models import ExecutionStatus, StepStatus
from tests.factories.orchestration import ExecutionFactory, ExecutionStepFactory

HOSTILE = '<script>alert("x")</script>&\''


def _row(html: str, number: int) -> str:
    found = re.search(rf'<li id="step-{number}".*?</li>', html, re.S)
    assert found, f"no row of step {number}"
    return found.group(0).replace(' hx-swap-oob="true"', "")


@pytest.mark.django_db
def test_every_value_of_a_step_is_escaped_in_its_row(workspace_a):
    execution = ExecutionFactory(workspace=workspace_a, status=ExecutionStatus.RUNNING, total_steps=3)
    step = ExecutionStepFactory(
        execution=execution,
        step_number=2,
        tool=HOSTILE,
        status=StepStatus.FAILED,
        waiting_for=HOSTILE,
        error=HOSTILE,
        input={"text": HOSTILE},
        output={"text": HOSTILE},
        depends_on=[1],
    )

    html = render_step_row(step_event(step, workspace_a.pk))

    assert "<script>" not in html
    assert html.count("&lt;script&gt;") == 5  # tool, waiting for, error, input, output
    assert "Waiting for &lt;script&gt;" in html
    assert '<p class="error step-error">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#x27;</p>' in html


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "he"])
def test_a_live_row_is_the_row_the_page_shows(workspace_a, language):
    """Every kind of row: cached and optional, waiting for approval, failed, with a stored output, with a file."""
    execution = ExecutionFactory(workspace=workspace_a, status=ExecutionStatus.RUNNING, total_steps=5)
    stored = {STORED: "outputs/step-4.json", "bytes": 123456, "preview": '{"a": 1'}
    steps = [
        ExecutionStepFactory(
            execution=execution, step_number=1, status=StepStatus.SUCCEEDED, cached=True, optional=True, duration_ms=73
        ),
        ExecutionStepFactory(
            execution=execution,
            step_number=2,
            status=StepStatus.WAITING_APPROVAL,
            waiting_for="approval by a person: sends e-mail",
            depends_on=[1],
        ),
        ExecutionStepFactory(execution=execution, step_number=3, status=StepStatus.FAILED, error="boom", attempts=3),
        ExecutionStepFactory(execution=execution, step_number=4, status=StepStatus.SUCCEEDED, output=stored),
        ExecutionStepFactory(
            execution=execution, step_number=5, status=StepStatus.SUCCEEDED, output={"path": "reports/a.csv"}
        ),
    ]

    with translation.override(language):
        page = render_execution_parts(execution, execution.user, {STEPS})
        for step in steps:
            assert _row(render_step_row(step_event(step, workspace_a.pk)), step.step_number) == _row(
                page, step.step_number
            )

    assert "badge-cached" in _row(page, 1)
    assert 'class="approval-note"' in _row(page, 2)
    assert f"/executions/{execution.pk}/steps/4/output" in _row(page, 4)
    assert "reports/a.csv</a>" in _row(page, 5)
