"""The execution page: what a finished, failed or running run shows, its actions, and who may see it."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from monitoring.log_handler import flush_database_logs
from orchestration.engine.runs import submit
from orchestration.models import ExecutionStatus, StepStatus
from tests.factories.orchestration import ExecutionFactory, ExecutionStepFactory
from tests.support.engine import wait_for
from tests.test_engine import Q1, Q2, SPEC_REQUEST, _csv, _wait_step_status
from tools.drive import WorkspaceDrive


def _page(client, execution):
    response = client.get(reverse("orchestration:execution", args=[execution.pk]))
    assert response.status_code == 200
    return response.content.decode()


def _plan(*steps):
    return {"steps": [{"number": n, **step} for n, step in enumerate(steps, start=1)]}


@pytest.mark.usefixtures("engine")
def test_it_shows_plan_steps_messages_context_logs_and_result_after_a_real_run(client, alice, workspace_a):
    drive = WorkspaceDrive(workspace_a.pk)
    drive.write_text("sales_q1.csv", _csv(Q1))
    drive.write_text("data/sales_q2.csv", _csv(Q2))
    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text=SPEC_REQUEST))
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    flush_database_logs()
    client.force_login(alice)

    page = _page(client, execution)

    assert '<span id="execution-status" class="status status-succeeded" data-status="succeeded"' in page
    assert '<progress id="progress" value="3" max="3">' in page
    assert "3 / 3 steps" in page
    assert SPEC_REQUEST in page
    for number, agent, tool in [
        (1, "drive", "drive.search"),
        (2, "analysis", "analysis.describe"),
        (3, "report", "report.compose"),
    ]:
        assert f'<tr id="plan-step-{number}">' in page
        assert f'<li id="step-{number}" class="step step-succeeded" data-status="succeeded"' in page
        assert f'<code class="step-tool">{tool}</code>' in page
        assert f'<span class="step-agent">{agent}</span>' in page
    assert 'id="plan-version-1"' in page
    assert 'id="shared-context"' in page
    assert "<code>files.found</code>" in page
    assert 'id="messages"' in page
    for kind in ("REQUEST", "RESPONSE", "NOTIFICATION"):
        assert f'<span class="badge msg-type">{kind}</span>' in page
    assert "orchestrator → drive" in page
    assert 'id="logs"' in page
    assert "succeeded" in page.split('id="logs"')[1]
    assert 'id="result"' in page
    assert 'id="error"' not in page
    assert 'id="cancel-form"' not in page
    assert 'id="resume-form"' not in page

    report_path = execution.steps.get(step_number=3).output["path"]
    link = reverse("orchestration:drive_file", args=[workspace_a.pk, report_path])
    assert f'href="{link}"' in page
    assert b"sales_q1.csv" in b"".join(client.get(link).streaming_content)


@pytest.mark.usefixtures("engine")
def test_it_retries_a_failed_run_from_the_page(client, alice, workspace_a):
    plan = _plan(
        {"tool": "test.noop", "input": {"value": 1}},
        {"tool": "test.flaky", "input": {"failures": 1}, "max_attempts": 1, "depends_on": [1]},
    )
    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text="flaky", plan=plan))
    assert execution.status == ExecutionStatus.FAILED
    client.force_login(alice)
    page = _page(client, execution)
    assert 'id="error"' in page
    assert "Step 2 (test.flaky) failed" in page
    assert '<form id="resume-form"' in page
    assert "Retry failed step" in page
    assert 'id="cancel-form"' not in page

    response = client.post(reverse("orchestration:resume", args=[execution.pk]), follow=True)

    assert response.redirect_chain[0][0] == reverse("orchestration:execution", args=[execution.pk])
    assert "Resumed: 1 step will run again." in response.content.decode()
    assert wait_for(execution).status == ExecutionStatus.SUCCEEDED


@pytest.mark.usefixtures("engine")
def test_it_cancels_a_running_run_through_htmx(client, bob, workspace_a):
    plan = _plan({"tool": "test.sleep", "input": {"seconds": 20}}, {"tool": "test.noop", "depends_on": [1]})
    execution = submit(user=bob, workspace=workspace_a, request_text="long", plan=plan)
    wait_for(execution, statuses={ExecutionStatus.RUNNING})
    _wait_step_status(execution, 1, StepStatus.RUNNING)
    client.force_login(bob)
    assert '<form id="cancel-form"' in _page(client, execution)

    response = client.post(reverse("orchestration:cancel", args=[execution.pk]), headers={"HX-Request": "true"})

    fragment = response.content.decode()
    assert response.status_code == 200
    assert '<span id="execution-status" class="status status-cancelled" data-status="cancelled"' in fragment
    assert 'hx-swap-oob="true"' in fragment
    assert "The run was cancelled." in fragment
    assert 'id="cancel-form"' not in fragment
    assert '<form id="resume-form"' in fragment  # a cancelled run can be resumed
    again = client.post(reverse("orchestration:cancel", args=[execution.pk]), follow=True)
    assert "The run had already ended" in again.content.decode()
    _wait_step_status(execution, 1, StepStatus.SUCCEEDED)  # the sleeper notices and stops


@pytest.mark.django_db
def test_it_answers_404_to_non_members_for_the_page_and_its_actions(client, alice, charlie, workspace_a):
    execution = ExecutionFactory.create(workspace=workspace_a, user=alice, status=ExecutionStatus.RUNNING)
    ExecutionStepFactory.create(execution=execution, step_number=1, output={"$stored": "outputs/x.json", "bytes": 9})
    client.force_login(charlie)
    assert client.get(reverse("orchestration:execution", args=[execution.pk])).status_code == 404
    assert client.post(reverse("orchestration:cancel", args=[execution.pk])).status_code == 404
    assert client.post(reverse("orchestration:resume", args=[execution.pk])).status_code == 404
    assert client.get(reverse("orchestration:step_output", args=[execution.pk, 1])).status_code == 404
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.RUNNING


@pytest.mark.django_db
def test_it_sends_anonymous_visitors_to_log_in(client, workspace_a):
    execution = ExecutionFactory.create(workspace=workspace_a)
    response = client.get(reverse("orchestration:execution", args=[execution.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_it_escapes_a_script_request_on_the_execution_page(client, alice, workspace_a):
    execution = ExecutionFactory.create(workspace=workspace_a, user=alice, request="<script>alert(1)</script>")
    ExecutionStepFactory.create(
        execution=execution, step_number=1, tool="test.noop", input={"value": "<img src=x onerror=alert(2)>"}
    )
    client.force_login(alice)
    page = _page(client, execution)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page


@pytest.mark.django_db
def test_it_keeps_a_viewer_from_cancelling(victor, client, workspace_a):
    execution = ExecutionFactory.create(workspace=workspace_a, status=ExecutionStatus.RUNNING, total_steps=1)
    client.force_login(victor)
    assert 'id="cancel-form"' not in _page(client, execution)
    response = client.post(reverse("orchestration:cancel", args=[execution.pk]), follow=True)
    assert "You may not cancel runs in this workspace." in response.content.decode()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.RUNNING


@pytest.mark.django_db
def test_it_links_a_step_waiting_for_approval_to_the_queue(client, alice, workspace_a):
    execution = ExecutionFactory.create(workspace=workspace_a, status=ExecutionStatus.WAITING_APPROVAL, total_steps=1)
    ExecutionStepFactory.create(
        execution=execution,
        step_number=1,
        tool="test.critical",
        status=StepStatus.WAITING_APPROVAL,
        waiting_for="approval of test.critical",
    )
    client.force_login(alice)
    page = _page(client, execution)
    assert 'data-status="waiting_approval"' in page
    assert "Waiting for approval of test.critical" in page
    assert f'href="{reverse("safety:queue")}"' in page


@pytest.mark.django_db
def test_it_shows_an_empty_run_clearly(client, alice, workspace_a):
    execution = ExecutionFactory.create(workspace=workspace_a)
    client.force_login(alice)
    page = _page(client, execution)
    assert "Planning… the steps appear here when the plan is ready." in page
    assert "No steps yet." in page
    assert "No messages yet." in page
    assert "No log lines yet." in page
    assert '<progress id="progress" value="0" max="1">' in page


@pytest.mark.django_db
def test_it_answers_htmx_with_out_of_band_fragments(client, alice, workspace_a):
    execution = ExecutionFactory.create(workspace=workspace_a)
    client.force_login(alice)
    fragment = client.get(reverse("orchestration:execution", args=[execution.pk]), headers={"HX-Request": "true"})
    html = fragment.content.decode()
    assert "<html" not in html
    for element_id in ("execution-status", "execution-progress", "execution-actions", "steps", "messages", "logs"):
        assert f'id="{element_id}"' in html
    assert html.count('hx-swap-oob="true"') == 9  # one per part, none nested


@pytest.mark.usefixtures("engine")
def test_it_previews_a_large_output_and_offers_the_whole_of_it(client, alice, charlie, workspace_a):
    big = "x" * 100_000
    plan = _plan({"tool": "test.noop", "input": {"value": big}})
    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text="big", plan=plan))
    client.force_login(alice)
    page = _page(client, execution)
    url = reverse("orchestration:step_output", args=[execution.pk, 1])
    assert f'href="{url}"' in page
    assert "Download the full output" in page
    assert '<details class="io step-output">' in page  # collapsed: it is large
    response = client.get(url)
    assert json.loads(b"".join(response.streaming_content)) == {"value": big}
    client.force_login(charlie)
    assert client.get(url).status_code == 404
