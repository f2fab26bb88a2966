"""Plugins (issue 13): the installed example package, hooks in order, failures skipped, disabling.

`orchestrate-chatops` (plugins/examples/chatops) is pip-installed by `make setup`
and found through its `orchestrate.plugins` entry point; the recording and
misbehaving plugins of tests/support/plugins.py come from
ORCHESTRATE_EXTRA_PLUGINS. These run in the embedded mode: the hooks record
into this process, and the webhook's loopback host is allowed in this
process's settings only.
"""

from __future__ import annotations

import json
from importlib.metadata import distribution

import pytest

from orchestration.engine.runs import RequestRefused, submit
from orchestration.models import Execution, ExecutionStatus
from orchestration.planning import PlanInvalid
from orchestration.planning.schema import plannable_tools
from plugins import hooks
from plugins.models import Plugin, PluginHook
from plugins.registry import PluginRegistry, registry
from plugins.sync import sync_plugins
from safety.approvals import decide
from tests.support import plugins as test_plugins
from tests.support.engine import wait_for
from tests.support.polling import eventually
from tests.support.runs import critical_run
from tools.discovery import discover_tools
from tools.drive import WorkspaceDrive
from tools.models import ToolCatalog, ToolType
from versioning.models import PlanVersion

pytest_plugins = ["tests.support.web_servers"]


@pytest.fixture(autouse=True)
def embedded(engine, settings):
    settings.ORCHESTRATE_RUN_MODE = "embedded"
    settings.ORCHESTRATE_PLUGIN_HOOK_TIMEOUT = 1.0
    sync_plugins()
    test_plugins.calls.clear()
    yield
    from orchestration.engine.embedded import runtime

    assert runtime().wait_idle(30)


def _configure(name: str, **config: object) -> None:
    Plugin.objects.filter(name=name).update(config=config)


def _recorded(execution: Execution) -> list[tuple[str, str, object]]:
    return [
        (plugin, hook, data.get("step_number"))
        for plugin, hook, execution_id, data in test_plugins.calls
        if execution_id in (str(execution.pk), None)
    ]


def _two_steps() -> dict:
    return {
        "steps": [
            {"number": 1, "tool": "test.noop", "input": {"value": 1}},
            {"number": 2, "tool": "test.noop", "input": {"value": {"$step": 1}}, "depends_on": [1]},
        ]
    }


def test_it_loads_the_installed_example_and_syncs_its_rows():
    assert distribution("orchestrate-chatops").entry_points.select(group="orchestrate.plugins")
    loaded = registry.loaded["chatops"]
    assert (loaded.distribution, loaded.version, loaded.error) == ("orchestrate-chatops", "1.0.0", "")
    row = Plugin.objects.get(name="chatops")
    assert (row.version, row.enabled, row.load_error) == ("1.0.0", True, "")
    assert list(PluginHook.objects.filter(plugin=row).values_list("hook_name", "execution_order")) == [
        ("run_finished", 100)
    ]
    discover_tools()
    tool = ToolCatalog.objects.get(name="csv.to_json")
    assert tool.tool_type == ToolType.PLUGIN
    assert tool.metadata["origin"] == "plugin:chatops"
    assert "file" in tool.metadata["input_schema"]["properties"]


def test_it_reports_and_disables_a_plugin_that_breaks_the_contract():
    broken = Plugin.objects.get(name="broken")
    assert broken.enabled is False
    assert "after_lunch" in broken.load_error
    assert "broken" not in {name for names in registry.handlers.values() for name in names}


def test_it_keeps_a_plugin_for_another_orchestrate_version_or_one_that_fails_to_import_out():
    class Future(test_plugins.Recorder):
        name = "future"
        orchestrate_versions = ">=2"

    plugins = PluginRegistry()
    plugins.add(Future)
    plugins.load_path("tests.support.no_such_module.Plugin")
    plugins.close()
    assert "supports Orchestrate >=2" in plugins.loaded["future"].error
    assert "cannot be imported" in plugins.loaded["tests.support.no_such_module.Plugin"].error
    assert plugins.handlers == {}


def test_it_runs_the_example_tool_and_posts_the_summary_through_the_ssrf_guard(alice, workspace_a, server, settings):
    settings.WEB_ALLOWED_HOSTS = ["127.0.0.1"]
    _configure("chatops", webhook_url=server.url("/hook"), console_url="http://console.example")
    drive = WorkspaceDrive(workspace_a.pk)
    drive.write_text("people.csv", "name,city\nAda,London\nGrace,Arlington\n")
    plan = {"steps": [{"number": 1, "tool": "csv.to_json", "input": {"file": "people.csv"}}]}

    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text="convert", plan=plan))

    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    assert json.loads(drive.read_text("people.json")) == [
        {"name": "Ada", "city": "London"},
        {"name": "Grace", "city": "Arlington"},
    ]
    posted = eventually(lambda: [r for r in server.requests if r.path == "/hook"], what="the webhook post")
    text = json.loads(posted[0].body)["text"]
    assert "succeeded" in text
    assert "1/1 steps" in text
    assert f"http://console.example/orchestrate/executions/{execution.pk}/" in text


def test_it_refuses_the_webhook_to_a_private_address_and_the_run_still_succeeds(alice, workspace_a, server, settings):
    settings.WEB_ALLOWED_HOSTS = []
    _configure("chatops", webhook_url=server.url("/hook"))
    plan = {"steps": [{"number": 1, "tool": "test.noop", "input": {}}]}

    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text="noop", plan=plan))

    assert execution.status == ExecutionStatus.SUCCEEDED
    errors = eventually(lambda: Plugin.objects.get(name="chatops").errors, what="the hook's error")
    assert errors[0]["error"].startswith("run_finished:")
    assert not server.requests


def test_it_fires_every_hook_in_order(alice, workspace_a):
    _configure("recorder", record=True)
    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text="two steps", plan=_two_steps()))
    assert execution.status == ExecutionStatus.SUCCEEDED
    eventually(lambda: len(_recorded(execution)) == 7, what="seven hook calls")
    assert _recorded(execution) == [
        ("recorder", "request_submitted", None),
        ("recorder", "plan_made", None),
        ("recorder", "step_starting", 1),
        ("recorder", "step_finished", 1),
        ("recorder", "step_starting", 2),
        ("recorder", "step_finished", 2),
        ("recorder", "run_finished", None),
    ]


def test_it_fires_the_approval_hooks(alice, workspace_a):
    _configure("recorder", record=True)
    execution, approval = critical_run(alice, workspace_a)
    decide(approval, alice, approve=True)
    assert wait_for(execution).status == ExecutionStatus.SUCCEEDED
    hooks_seen = [hook for _, hook, _ in _recorded(execution)]
    assert hooks_seen.index("approval_requested") < hooks_seen.index("approval_decided")
    decided = next(data for _, hook, _, data in test_plugins.calls if hook == "approval_decided")
    assert (decided["approval_id"], decided["status"]) == (str(approval.pk), "approved")


def test_it_logs_and_skips_a_hook_that_raises_and_the_run_finishes(alice, workspace_a):
    _configure("recorder", record=True)
    _configure("raiser", mode="raise")
    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text="two steps", plan=_two_steps()))
    assert execution.status == ExecutionStatus.SUCCEEDED
    eventually(lambda: len(_recorded(execution)) == 7, what="the recorder's seven calls")
    errors = eventually(lambda: len(Plugin.objects.get(name="raiser").errors) >= 7 or None, what="errors")
    assert errors
    seen = {entry["error"].split(":")[0] for entry in Plugin.objects.get(name="raiser").errors}
    assert {"request_submitted", "plan_made", "step_starting", "step_finished", "run_finished"} <= seen


def test_it_skips_a_hook_that_overruns_its_time_limit(alice, workspace_a, settings):
    settings.ORCHESTRATE_PLUGIN_HOOK_TIMEOUT = 0.2
    _configure("raiser", mode="sleep")
    plan = {"steps": [{"number": 1, "tool": "test.noop", "input": {}}]}
    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text="slow hooks", plan=plan))
    assert execution.status == ExecutionStatus.SUCCEEDED
    errors = Plugin.objects.get(name="raiser").errors
    assert any("overran its time limit of 0.2s" in entry["error"] for entry in errors)
    # The overrunning hooks still finish on their threads; wait for them so they record into this test, not the next.
    hooks_run = {"request_submitted", "plan_made", "step_starting", "step_finished", "run_finished"}
    eventually(
        lambda: hooks_run <= {hook for plugin, hook, _, _ in test_plugins.calls if plugin == "raiser"},
        what="the overrunning hooks to return",
    )


def test_it_lets_a_hook_refuse_a_request(alice, workspace_a):
    _configure("recorder", record=True, refuse_word="payroll")
    with pytest.raises(RequestRefused, match="Refused by recorder: requests about 'payroll'"):
        submit(user=alice, workspace=workspace_a, request_text="export the payroll", plan=_two_steps())
    assert not Execution.objects.exists()


def test_it_refuses_when_a_request_hook_fails_only_if_configured(alice, workspace_a, settings):
    _configure("raiser", mode="raise")
    assert wait_for(submit(user=alice, workspace=workspace_a, request_text="fine", plan=_two_steps())).status == (
        ExecutionStatus.SUCCEEDED
    )
    settings.ORCHESTRATE_PLUGIN_REFUSE_ON_ERROR = True
    with pytest.raises(RequestRefused, match="raiser plugin could not check"):
        submit(user=alice, workspace=workspace_a, request_text="refused now", plan=_two_steps())


def test_it_stores_a_plan_amended_by_a_hook_as_a_new_version(alice, workspace_a):
    _configure("recorder", record=True, append_step={"tool": "test.noop", "input": {"value": "added"}})
    plan = {"steps": [{"number": 1, "tool": "test.noop", "input": {}}]}
    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text="amend", plan=plan))
    assert execution.status == ExecutionStatus.SUCCEEDED
    versions = dict(PlanVersion.objects.filter(plan=execution).values_list("version", "plan_data"))
    assert len(versions[1]["steps"]) == 1
    assert [step["input"] for step in versions[2]["steps"]] == [{}, {"value": "added"}]
    assert versions[2]["amended_by"] == ["recorder"]
    assert execution.steps.count() == 2


def test_it_ignores_an_amendment_that_is_not_a_valid_plan(alice, workspace_a):
    _configure("recorder", record=True, append_step={"tool": "no.such_tool", "input": {}})
    plan = {"steps": [{"number": 1, "tool": "test.noop", "input": {}}]}
    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text="amend badly", plan=plan))
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert list(PlanVersion.objects.filter(plan=execution).values_list("version", flat=True)) == [1]
    assert "unknown tool 'no.such_tool'" in Plugin.objects.get(name="recorder").errors[0]["error"]


def test_it_skips_a_hook_whose_settings_do_not_match_the_schema(alice, workspace_a):
    _configure("recorder", record="yes")
    plan = {"steps": [{"number": 1, "tool": "test.noop", "input": {}}]}
    assert wait_for(submit(user=alice, workspace=workspace_a, request_text="x", plan=plan)).status == (
        ExecutionStatus.SUCCEEDED
    )
    assert not [call for call in test_plugins.calls if call[0] == "recorder"]
    assert "settings are invalid" in Plugin.objects.get(name="recorder").errors[0]["error"]


def test_it_removes_a_disabled_plugins_tools_from_planning(alice, workspace_a):
    assert "csv.to_json" in {tool.name for tool in plannable_tools()}
    Plugin.objects.filter(name="chatops").update(enabled=False)
    assert "csv.to_json" not in {tool.name for tool in plannable_tools()}
    plan = {"steps": [{"number": 1, "tool": "csv.to_json", "input": {"file": "a.csv"}}]}
    with pytest.raises(PlanInvalid, match="whose plugin is disabled"):
        submit(user=alice, workspace=workspace_a, request_text="convert", plan=plan)


def test_it_calls_no_hook_and_runs_no_query_where_no_plugin_handles_the_point(django_assert_num_queries):
    plugins = PluginRegistry()
    plugins.load_entry_points()
    plugins.close()
    assert set(plugins.handlers) == {"run_finished"}
    with django_assert_num_queries(0):
        assert hooks.call("no_such_hook") == []
