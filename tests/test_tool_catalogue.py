"""The tool catalogue (issue 13): per-workspace tool settings, the page, disabled tools never planned nor run."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from orchestration.engine.runs import run_planned, submit
from orchestration.models import Execution, ExecutionStatus, StepStatus
from orchestration.planning import NoToolForRequest, PlanInvalid, make_plan
from orchestration.planning.schema import plannable_tools
from plugins.models import Plugin
from plugins.sync import sync_plugins
from tests.support.engine import wait_for
from tools.discovery import discover_tools
from tools.drive import WorkspaceDrive
from tools.models import ToolCatalog, ToolType, WorkspaceToolSetting
from tools.services.workspace_tools import (
    UnknownTool,
    approval_waived,
    change_tool_setting,
    disabled_tools,
    is_tool_enabled,
)

pytestmark = pytest.mark.django_db


def _tools(plan: dict) -> list[str]:
    return [step["tool"] for step in plan["steps"]]


def test_it_switches_a_tool_off_in_one_workspace_only(alice, charlie, workspace_a, workspace_b):
    assert is_tool_enabled(workspace_a, "web.get")
    change_tool_setting(alice, workspace_a, "web.get", enabled=False)
    assert not is_tool_enabled(workspace_a, "web.get")
    assert is_tool_enabled(workspace_b, "web.get")
    assert disabled_tools(workspace_a) == {"web.get"}
    assert disabled_tools(workspace_b.pk) == frozenset()
    change_tool_setting(alice, workspace_a, "web.get", enabled=True)
    assert disabled_tools(str(workspace_a.pk)) == frozenset()


def test_it_keeps_the_waiver_apart_from_the_switch(alice, workspace_a):
    assert not approval_waived(workspace_a, "email.send")
    change_tool_setting(alice, workspace_a, "email.send", approval_waived=True)
    assert approval_waived(workspace_a, "email.send")
    assert is_tool_enabled(workspace_a, "email.send")
    change_tool_setting(alice, workspace_a, "email.send", enabled=False)
    row = WorkspaceToolSetting.objects.get(workspace=workspace_a, tool_name="email.send")
    assert (row.enabled, row.approval_waived, row.updated_by) == (False, True, alice)


def test_it_lets_only_owners_and_admins_change_a_tool(alice, bob, victor, charlie, workspace_a):
    for someone in (bob, victor, charlie):
        with pytest.raises(PermissionDenied):
            change_tool_setting(someone, workspace_a, "web.get", enabled=False)
    assert is_tool_enabled(workspace_a, "web.get")


def test_it_refuses_a_tool_the_catalogue_does_not_have(alice, workspace_a):
    with pytest.raises(UnknownTool, match=r"no tool named 'no\.such'"):
        change_tool_setting(alice, workspace_a, "no.such", enabled=False)
    assert not WorkspaceToolSetting.objects.exists()


# --- a tool switched off is never planned nor run in that workspace ---


def _switch_off(user, workspace, name: str) -> None:
    discover_tools()  # transactional tests start with an empty catalogue
    change_tool_setting(user, workspace, name, enabled=False)


def test_it_leaves_a_switched_off_tool_out_of_the_rule_planners_plans(alice, workspace_a, workspace_b):
    request = "summarise the sales CSV files and e-mail the results to team@example.com"
    assert "email.send" in _tools(make_plan(request, execution_id="e1", workspace=workspace_a))
    _switch_off(alice, workspace_a, "email.send")
    assert "email.send" not in {tool.name for tool in plannable_tools(workspace_a)}
    with pytest.raises(NoToolForRequest, match="No tool enabled in this workspace can send the e-mail"):
        make_plan(request, execution_id="e2", workspace=workspace_a)
    assert "email.send" in _tools(make_plan(request, execution_id="e3", workspace=workspace_b))


def test_it_offers_the_model_only_the_workspaces_tools_and_refuses_its_plan_using_another(
    alice, workspace_a, openai_server
):
    _switch_off(alice, workspace_a, "web.get")
    openai_server.reply(json.dumps({"steps": [{"number": 1, "tool": "web.get", "input": {"url": "http://x.test"}}]}))
    plan = make_plan("summarise the sales CSV files", execution_id="e1", workspace=workspace_a)
    offered = {tool["name"] for tool in json.loads(openai_server.last_chat["messages"][1]["content"])["tools"]}
    assert "web.get" not in offered
    assert "drive.search" in offered
    assert plan["planner"] == "rules"
    assert "'web.get', which is switched off in this workspace" in plan["fallback_reason"]


def test_it_refuses_a_given_plan_using_a_switched_off_tool(alice, workspace_a):
    _switch_off(alice, workspace_a, "drive.list")
    plan = {"steps": [{"number": 1, "tool": "drive.list", "input": {}}]}
    with pytest.raises(PlanInvalid, match="switched off in this workspace"):
        submit(user=alice, workspace=workspace_a, request_text="list", plan=plan)
    assert not Execution.objects.exists()


def test_it_refuses_to_run_a_tool_switched_off_after_the_plan_was_made(engine, alice, workspace_a):
    plan = {"steps": [{"number": 1, "tool": "test.noop", "input": {"value": 1}}]}
    execution = wait_for(
        submit(user=alice, workspace=workspace_a, request_text="noop", plan=plan, plan_only=True),
        statuses={ExecutionStatus.PLANNED},
    )
    _switch_off(alice, workspace_a, "test.noop")
    assert run_planned(execution, alice)
    execution = wait_for(execution)
    assert execution.status == ExecutionStatus.FAILED
    step = execution.steps.get()
    assert step.status == StepStatus.FAILED
    assert step.error == "test.noop cannot run: it is switched off in this workspace's tool catalogue."


# --- the catalogue page ---


def _page(client, query: str = "", **headers: str) -> str:
    return client.get("/tools/", {"q": query} if query else {}, headers=headers).content.decode()


def test_it_lists_every_catalogued_tool_with_its_source_flags_and_schema(client, alice):
    client.force_login(alice)
    page = _page(client)
    assert page.count('class="tool-row') == ToolCatalog.objects.count()
    rows = {name: _row(page, name) for name in ("email.send", "csv.to_json", "drive.write", "llm.chat")}
    assert "Built-in" in rows["email.send"]
    assert "critical" in rows["email.send"]
    assert "rate limit smtp.send" in rows["email.send"]
    assert "&quot;to&quot;" in rows["email.send"]  # the input schema
    assert "Plugin chatops" in rows["csv.to_json"]
    assert "locks the drive file it writes" in rows["drive.write"]
    assert "cacheable" in rows["llm.chat"]
    assert "Disable email.send" in rows["email.send"]


def _row(page: str, name: str) -> str:
    start = page.index(f'id="tool-{name.replace(".", "-2e-")}"')
    return page[start : page.index("</tr>", start)]


def test_it_shows_an_mcp_servers_tool_with_its_server(client, alice):
    ToolCatalog.objects.create(
        name="mcp.files.read_file",
        tool_type=ToolType.MCP,
        capabilities=["files.read"],
        metadata={"description": "Read a file on the files server", "input_schema": {"type": "object"}},
        last_discovered_at=timezone.now(),
    )
    client.force_login(alice)
    page = _page(client, "mcp")
    assert page.count('class="tool-row') == 1
    assert "MCP server files" in _row(page, "mcp.files.read_file")


def test_it_searches_by_every_word_and_answers_htmx_with_the_fragment(client, alice):
    client.force_login(alice)
    fragment = _page(client, "critical smtp", HX_Request="true", HX_Target="tool-catalogue")
    assert "<html" not in fragment
    assert fragment.startswith('<div id="tool-catalogue">')
    assert "email.send" in fragment
    assert "web.post" not in fragment  # critical, but not smtp
    assert "drive.list" not in fragment
    assert "No tool matches" in _page(client, "no-such-thing")


def test_it_switches_a_tool_off_and_on_from_the_page(client, alice, workspace_a):
    client.force_login(alice)
    response = client.post("/tools/web.get/setting/", {"enabled": "0", "q": "web"})
    assert response.status_code == 302
    assert response["Location"] == "/tools/?q=web"
    assert not is_tool_enabled(workspace_a, "web.get")
    assert "Disabled" in _row(_page(client), "web.get")
    row = client.post("/tools/web.get/setting/", {"enabled": "1"}, headers={"HX-Request": "true"}).content.decode()
    assert row.startswith('<tr id="tool-web-2e-get"')
    assert "Disable web.get" in row
    assert is_tool_enabled(workspace_a, "web.get")


def test_it_shows_each_workspace_its_own_switches(client, alice, charlie, workspace_a):
    change_tool_setting(alice, workspace_a, "web.get", enabled=False)
    client.force_login(charlie)
    row = _row(_page(client), "web.get")
    assert "Enabled" in row
    assert "Disabled" not in row


def test_it_refuses_operators_unknown_tools_and_bad_values(client, alice, bob, workspace_a):
    client.force_login(bob)
    assert client.post("/tools/web.get/setting/", {"enabled": "0"}).status_code == 403
    assert "Disable web.get" not in _page(client)
    client.force_login(alice)
    assert client.post("/tools/no.such/setting/", {"enabled": "0"}).status_code == 404
    assert client.post("/tools/web.get/setting/", {"enabled": "maybe"}).status_code == 400
    assert disabled_tools(workspace_a) == frozenset()


def test_it_refuses_to_run_a_plugins_tool_once_the_plugin_is_disabled(engine, alice, workspace_a):
    sync_plugins()
    WorkspaceDrive(workspace_a.pk).write_text("people.csv", "name\nAda\n")
    plan = {"steps": [{"number": 1, "tool": "csv.to_json", "input": {"file": "people.csv"}}]}
    execution = wait_for(
        submit(user=alice, workspace=workspace_a, request_text="convert", plan=plan, plan_only=True),
        statuses={ExecutionStatus.PLANNED},
    )
    Plugin.objects.filter(name="chatops").update(enabled=False)
    assert run_planned(execution, alice)
    step = wait_for(execution).steps.get()
    assert (step.status, step.error) == (StepStatus.FAILED, "csv.to_json cannot run: its plugin is disabled.")
    assert not WorkspaceDrive(workspace_a.pk).exists("people.json")


def test_it_refuses_a_webhooks_saved_plan_with_a_tool_switched_off_in_its_workspace(alice, charlie, workspace_a):
    from webhooks.actions import ConfigInvalid
    from webhooks.services import create_webhook

    plan = {"steps": [{"number": 1, "tool": "web.get", "input": {"url": "https://example.com/"}}]}
    change_tool_setting(alice, workspace_a, "web.get", enabled=False)

    with pytest.raises(ConfigInvalid, match=r"web\.get"):
        create_webhook(alice, workspace_a, name="Fetch", trigger_type="http", action_config={"plan": plan})
    # The switch is workspace A's own: charlie's workspace saves the same plan.
    charlies = charlie.memberships.get().workspace
    created = create_webhook(charlie, charlies, name="Fetch", trigger_type="http", action_config={"plan": plan})
    assert created.webhook.action_config["plan"] == plan
