"""MCP servers as tool sources (issue 13): discover, plan, run, approve, fail cleanly.

Against real servers: `mcp-server-git` (PyPI) over stdio on a temporary git
repository, and the SDK-built streamable-HTTP server of
tests/support/mcp_http_server.py started as a separate process. Runs go
through the real planner and the embedded engine (the loopback server is
allowed through the SSRF guard in this process's settings only).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from monitoring.batching import flush_telemetry
from monitoring.models import Trace
from orchestration.engine.runs import cancel, submit
from orchestration.models import ExecutionStatus, ExecutionStep, StepStatus
from orchestration.planning import PlanInvalid, make_plan
from orchestration.planning.schema import plannable_tools
from safety.approvals import decide
from safety.rate_limits import take
from tests.support.engine import wait_for
from tests.support.polling import eventually
from tests.support.runs import approval_of
from tools.models import ToolCatalog, ToolType
from tools.registry import registry
from tools.services.catalogue import catalogue
from tools.services.workspace_tools import UnknownTool, change_tool_setting
from tools_mcp import discovery, services
from tools_mcp.marking import marked_safe
from tools_mcp.models import McpServer, Transport

pytest_plugins = ["tests.support.mcp_http_server", "tests.support.openai_server"]
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def embedded(engine, settings):
    settings.ORCHESTRATE_RUN_MODE = "embedded"
    settings.WEB_ALLOWED_HOSTS = ["127.0.0.1"]
    yield
    from orchestration.engine.embedded import runtime

    assert runtime().wait_idle(30)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    for command in (
        ["git", "init", "-q"],
        ["git", "config", "user.email", "alice@example.com"],
        ["git", "config", "user.name", "Alice"],
    ):
        subprocess.run(command, cwd=path, check=True)
    (path / "notes.txt").write_text("first notes\n")
    subprocess.run(["git", "add", "notes.txt"], cwd=path, check=True)
    subprocess.run(["git", "commit", "-qm", "Add the first notes"], cwd=path, check=True)
    return path


@pytest.fixture
def git_server(alice, workspace_a, repo) -> McpServer:
    program = django_settings.ORCHESTRATE_MCP_STDIO_COMMANDS[0]
    server, report = services.register(
        alice, workspace_a, name="git", transport=Transport.STDIO, command=f"{program} --repository {repo}"
    )
    assert not report.error, report.error
    return server


@pytest.fixture
def notes_server(alice, workspace_a, mcp_http_server) -> McpServer:
    server, report = services.register(
        alice,
        workspace_a,
        name="notes",
        transport=Transport.HTTP,
        url=mcp_http_server.url,
        headers={"X-Api-Key": "k-123"},
    )
    assert not report.error, report.error
    return server


def _step(execution):
    return ExecutionStep.objects.get(execution_id=execution.pk, step_number=1)


def test_it_discovers_the_tools_of_a_stdio_server_into_the_catalogue(git_server, workspace_a):
    row = ToolCatalog.objects.get(workspace=workspace_a, name="mcp.git.git_status")
    assert row.tool_type == ToolType.MCP
    assert row.metadata["input_schema"]["required"] == ["repo_path"]
    assert row.metadata["annotations"]["readOnlyHint"] is True
    assert "git.status" in row.capabilities
    assert row.last_discovered_at is not None
    names = set(ToolCatalog.objects.filter(workspace=workspace_a).values_list("name", flat=True))
    assert {"mcp.git.git_log", "mcp.git.git_commit", "mcp.git.git_diff"} <= names
    assert McpServer.objects.get(pk=git_server.pk).last_error == ""


def test_it_plans_a_named_tool_runs_it_after_approval_and_stores_its_output(git_server, alice, workspace_a, repo):
    execution = submit(user=alice, workspace=workspace_a, request_text=f"run mcp.git.git_log with repo_path={repo}")
    execution = wait_for(execution, statuses={ExecutionStatus.WAITING_APPROVAL})
    assert execution.plan["steps"][0]["tool"] == "mcp.git.git_log"
    approval = approval_of(execution)
    assert "a tool of the MCP server git" in approval.reason
    decide(approval, alice, approve=True)
    execution = wait_for(execution)
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    step = _step(execution)
    assert "Add the first notes" in step.output["text"]
    flush_telemetry()
    assert Trace.objects.filter(execution=execution, name="step 1: mcp.git.git_log", status="ok").exists()


def test_it_runs_a_tool_marked_safe_without_approval(notes_server, alice, workspace_a):
    services.mark_safe(alice, notes_server, {"mcp.notes.add"})
    plan = {"steps": [{"number": 1, "tool": "mcp.notes.add", "input": {"a": 2, "b": 3}}]}
    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text="add", plan=plan))
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    assert _step(execution).output["text"] == "5"
    assert not execution.approvals.exists()


def test_it_takes_a_read_only_hint_as_a_suggestion_never_as_a_grant(notes_server, alice, workspace_a, client):
    assert not marked_safe(workspace_a.pk, "mcp.notes.add")
    assert registry.resolve("mcp.notes.add", workspace_a.pk).approval_reason({"a": 1, "b": 1})
    client.force_login(alice)
    page = client.get(reverse("tools_mcp:detail", args=[notes_server.pk])).content.decode()
    assert 'name="mcp.notes.add" id="id_mcp.notes.add" checked' in page  # pre-filled from readOnlyHint
    assert 'name="mcp.notes.record" id="id_mcp.notes.record" checked' not in page
    client.post(reverse("tools_mcp:detail", args=[notes_server.pk]), {"mcp.notes.add": "on"})
    assert marked_safe(workspace_a.pk, "mcp.notes.add")
    assert registry.resolve("mcp.notes.add", workspace_a.pk).approval_reason({"a": 1, "b": 1}) is None
    assert not marked_safe(workspace_a.pk, "mcp.notes.record")


def test_it_refuses_input_that_does_not_fit_the_servers_schema(notes_server, alice, workspace_a, mcp_http_server):
    services.mark_safe(alice, notes_server, {"mcp.notes.record"})
    plan = {"steps": [{"number": 1, "tool": "mcp.notes.record", "input": {"text": 42}}]}
    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text="record", plan=plan))
    assert execution.status == ExecutionStatus.FAILED
    assert "42 is not of type 'string'" in _step(execution).error
    assert mcp_http_server.recorded() == []  # the server was never called


def test_it_fails_the_step_clearly_when_the_server_dies_mid_call(notes_server, alice, workspace_a, mcp_http_server):
    services.mark_safe(alice, notes_server, {"mcp.notes.die", "mcp.notes.add"})
    plan = {
        "steps": [
            {"number": 1, "tool": "mcp.notes.die", "input": {}},
            {"number": 2, "tool": "mcp.notes.add", "input": {"a": 1, "b": 1}, "depends_on": [1]},
        ]
    }
    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text="die", plan=plan))
    assert mcp_http_server.process.wait(timeout=10) == 3  # it really died
    assert execution.status == ExecutionStatus.FAILED
    first, second = execution.steps.order_by("step_number")
    assert first.status == StepStatus.FAILED
    assert first.attempts == 1  # not repeated: the server may have acted
    assert "The MCP server notes stopped answering while calling die" in first.error
    assert second.status == StepStatus.SKIPPED
    assert execution.current_step == execution.total_steps == 2
    assert execution.completed_at is not None


def test_it_stops_a_call_at_the_steps_time_limit(notes_server, alice, workspace_a):
    services.mark_safe(alice, notes_server, {"mcp.notes.slow"})
    step = {"number": 1, "tool": "mcp.notes.slow", "input": {"seconds": 30}, "timeout_seconds": 2}
    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text="slow", plan={"steps": [step]}))
    assert execution.status == ExecutionStatus.FAILED
    failed = _step(execution)
    # Within what was left of the step's two seconds once the server had started.
    assert re.search(r"The MCP server notes did not answer within [01]\.\d seconds while calling slow", failed.error)
    assert failed.attempts == 1  # it may have acted: not repeated


def test_it_limits_calls_per_server(notes_server, alice, workspace_a, settings):
    settings.ORCHESTRATE_RATE_LIMITS = {**settings.ORCHESTRATE_RATE_LIMITS, "mcp.notes": (1, 3600)}
    assert registry.resolve("mcp.notes.add", workspace_a.pk).rate_limit == ("mcp", "notes")
    assert take(workspace_a, "mcp", "notes").allowed
    assert not take(workspace_a, "mcp", "notes").allowed
    assert take(workspace_a, "mcp", "other").limit == 60  # every other server: the "mcp.*" default


def test_it_keeps_headers_sealed_and_needs_them(notes_server, alice, workspace_a, client, mcp_http_server):
    stored = McpServer.objects.get(pk=notes_server.pk)
    assert "k-123" not in stored.headers_sealed
    assert stored.headers_sealed.startswith("v1.")
    client.force_login(alice)
    assert "k-123" not in client.get(reverse("tools_mcp:detail", args=[notes_server.pk])).content.decode()
    _, report = services.register(alice, workspace_a, name="nokey", transport=Transport.HTTP, url=mcp_http_server.url)
    assert "refused the credentials (HTTP 401)" in report.error


def test_it_reaches_http_servers_only_through_the_ssrf_guard(alice, workspace_a, mcp_http_server, settings):
    settings.WEB_ALLOWED_HOSTS = []
    with pytest.raises(services.ServerInvalid, match="WEB_ALLOWED_HOSTS"):
        services.register(alice, workspace_a, name="inside", transport=Transport.HTTP, url=mcp_http_server.url)
    assert not McpServer.objects.exists()


def test_it_refuses_a_stdio_command_the_installation_does_not_allow(alice, workspace_a):
    with pytest.raises(services.ServerInvalid, match="not a command this installation allows"):
        services.register(alice, workspace_a, name="shell", transport=Transport.STDIO, command="sh -c 'rm -rf /'")


def test_it_lets_only_owners_and_admins_register(bob, workspace_a, mcp_http_server):
    with pytest.raises(services.PermissionDenied):
        services.register(bob, workspace_a, name="notes", transport=Transport.HTTP, url=mcp_http_server.url)


def test_it_keeps_a_workspaces_tools_to_itself(notes_server, alice, charlie, workspace_b):
    assert "mcp.notes.add" in {tool.name for tool in plannable_tools(notes_server.workspace_id)}
    assert "mcp.notes.add" not in {tool.name for tool in plannable_tools(workspace_b.pk)}
    assert not registry.knows("mcp.notes.add", workspace_b.pk)
    plan = {"steps": [{"number": 1, "tool": "mcp.notes.add", "input": {"a": 1, "b": 2}}]}
    with pytest.raises(PlanInvalid, match=r"unknown tool 'mcp\.notes\.add'"):
        submit(user=charlie, workspace=workspace_b, request_text="add", plan=plan)


def test_it_plans_a_tool_by_what_the_request_asks(git_server, workspace_a, repo):
    plan = make_plan(
        f"what is the git status of the repository? repo_path={repo}", execution_id="e1", workspace=workspace_a
    )
    assert [step["tool"] for step in plan["steps"]] == ["mcp.git.git_status"]
    assert plan["steps"][0]["input"] == {"repo_path": str(repo)}


def test_it_gives_the_language_model_planner_the_mcp_tools(notes_server, workspace_a, openai_server):
    model_plan = {"steps": [{"number": 1, "tool": "mcp.notes.add", "input": {"a": 1, "b": 2}}]}
    openai_server.reply(model_plan)
    plan = make_plan("add one and two", execution_id="e2", workspace=workspace_a)
    assert plan["planner"] == "llm"
    assert plan["steps"][0]["tool"] == "mcp.notes.add"
    offered = {tool["name"]: tool for tool in json.loads(openai_server.last_chat["messages"][1]["content"])["tools"]}
    assert offered["mcp.notes.add"]["input_schema"]["required"] == ["a", "b"]


def test_it_marks_tools_a_server_stopped_listing_and_refreshes_when_due(notes_server, workspace_a):
    ToolCatalog.objects.create(
        name="mcp.notes.retired",
        workspace=workspace_a,
        tool_type=ToolType.MCP,
        metadata={"server_id": str(notes_server.pk), "server": "notes", "tool": "retired", "available": True},
        last_discovered_at=notes_server.last_discovered_at or notes_server.created_at,
    )
    McpServer.objects.filter(pk=notes_server.pk).update(last_discovered_at=None)
    reports = discovery.refresh_due()
    assert [str(report) for report in reports] == ["notes: 0 added, 5 updated, 1 gone"]
    assert ToolCatalog.objects.get(name="mcp.notes.retired").metadata["available"] is False
    assert not registry.knows("mcp.notes.retired", workspace_a.pk)
    assert discovery.refresh_due() == []  # fresh now
    assert django_settings.CELERY_BEAT_SCHEDULE["mcp-refresh"]["task"] == "tools_mcp.refresh_due"


def test_it_removes_a_deleted_servers_tools(notes_server, alice, workspace_a):
    services.delete(alice, notes_server)
    assert not ToolCatalog.objects.filter(workspace=workspace_a, name__startswith="mcp.notes.").exists()


def test_it_stops_a_call_when_the_run_is_cancelled(notes_server, alice, workspace_a):
    services.mark_safe(alice, notes_server, {"mcp.notes.slow"})
    step = {"number": 1, "tool": "mcp.notes.slow", "input": {"seconds": 60}, "max_attempts": 1}
    execution = submit(user=alice, workspace=workspace_a, request_text="slow", plan={"steps": [step]})
    running = ExecutionStep.objects.filter(execution_id=execution.pk, step_number=1, status=StepStatus.RUNNING)
    eventually(running.exists, what="the call to start", timeout=20)
    assert cancel(execution, alice)
    started = time.monotonic()
    ended = eventually(lambda: _step(execution).status != StepStatus.RUNNING or None, what="the call to stop")
    assert ended
    assert time.monotonic() - started < 20  # not the tool's 60 seconds
    assert wait_for(execution).status == ExecutionStatus.CANCELLED


def test_it_shows_a_workspaces_mcp_tools_in_its_catalogue_only(notes_server, alice, charlie, workspace_a, workspace_b):
    assert "mcp.notes.add" in {entry.name for entry in catalogue(workspace_a)}
    assert "mcp.notes.add" not in {entry.name for entry in catalogue(workspace_b)}
    with pytest.raises(UnknownTool):
        change_tool_setting(charlie, workspace_b, "mcp.notes.add", approval_waived=True)
    # Marked safe on the catalogue page: the same mark the MCP server page sets.
    change_tool_setting(alice, workspace_a, "mcp.notes.add", approval_waived=True)
    assert registry.resolve("mcp.notes.add", workspace_a.pk).approval_reason({"a": 1, "b": 2}) is None
    # Switched off there: neither planned nor run.
    change_tool_setting(alice, workspace_a, "mcp.notes.add", enabled=False)
    assert "mcp.notes.add" not in {tool.name for tool in plannable_tools(workspace_a)}
