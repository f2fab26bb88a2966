"""Secrets typed into a tool's input are never stored or shown in the clear (issue 8, security item 13).

A plan posts to a real HTTP server (on loopback, allowed for the test) with
an Authorization header and an API key. The server must get the real
values; no row of any table, and no page, may hold them.

These run in the embedded mode: the allowed host lives in this process's
settings, which a separately started worker would not share.
"""

from __future__ import annotations

import time

import pytest
from django.apps import apps
from django.core import serializers
from django.urls import reverse

from monitoring.log_handler import flush_database_logs
from orchestration.engine.runs import submit
from orchestration.models import ExecutionStatus, ExecutionStep
from safety.approvals import decide
from safety.models import PendingApproval
from safety.secrets import seal_input, shown
from tests.support.engine import wait_for

pytest_plugins = ["tests.support.web_servers"]

TOKEN = "sk-live-5f3a9c0e7d-never-stored"


@pytest.fixture(autouse=True)
def embedded(engine, settings):
    settings.ORCHESTRATE_RUN_MODE = "embedded"
    settings.WEB_ALLOWED_HOSTS = ["127.0.0.1"]
    yield
    from orchestration.engine.embedded import runtime

    assert runtime().wait_idle(30)


def _post_plan(url: str) -> dict:
    headers = {"Authorization": f"Bearer {TOKEN}", "X-Api-Key": TOKEN, "Accept": "application/json"}
    return {"steps": [{"number": 1, "tool": "web.post", "input": {"url": url, "json": {"q": 1}, "headers": headers}}]}


def _approve_when_asked(execution, person) -> PendingApproval:
    deadline = time.monotonic() + 15
    while not PendingApproval.objects.filter(execution=execution).exists():
        assert time.monotonic() < deadline, "no approval was asked"
        time.sleep(0.05)
    approval = PendingApproval.objects.get(execution=execution)
    decide(approval, person, approve=True)
    return approval


def _every_row_as_json() -> str:
    return "\n".join(serializers.serialize("json", model._default_manager.all()) for model in apps.get_models())


def test_it_gives_the_tool_the_secret_and_stores_or_shows_it_nowhere(alice, workspace_a, server, client):
    execution = submit(
        user=alice, workspace=workspace_a, request_text="post the figures", plan=_post_plan(server.url("/json"))
    )
    approval = _approve_when_asked(execution, alice)
    execution = wait_for(execution)

    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    [request] = server.requests
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["x-api-key"] == TOKEN
    assert approval.action_data["headers"] == {
        "Authorization": "[redacted]",
        "X-Api-Key": "[redacted]",
        "Accept": "application/json",
    }
    flush_database_logs()
    assert TOKEN not in _every_row_as_json()  # plan, steps, plan versions, messages, checkpoints, traces, logs...

    client.force_login(alice)
    page = client.get(reverse("orchestration:execution", args=[execution.pk])).content.decode()
    assert TOKEN not in page
    assert "[redacted]" in page
    queue = client.get(reverse("safety:queue")).content.decode()
    assert TOKEN not in queue


def test_it_fails_a_step_whose_sealed_secret_belongs_to_another_workspace(alice, workspace_a, workspace_b, server):
    stolen = seal_input({"Authorization": f"Bearer {TOKEN}"}, workspace_id=workspace_b.pk)
    plan = _post_plan(server.url("/json"))
    plan["steps"][0]["input"]["headers"] = stolen

    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text="post", plan=plan))

    assert execution.status == ExecutionStatus.FAILED
    assert "cannot be read" in ExecutionStep.objects.get(execution=execution).error
    assert server.requests == []
    assert not PendingApproval.objects.filter(execution=execution).exists()


def test_it_shows_references_but_not_secrets():
    stored = {
        "headers": {"Authorization": {"$secret": "v1.abcd.xyz"}, "Cookie": "legacy plain value"},
        "token": {"$context": "login.token"},
        "password": "",
        "subject": "Hello",
    }
    assert shown(stored) == {
        "headers": {"Authorization": "[redacted]", "Cookie": "[redacted]"},
        "token": {"$context": "login.token"},
        "password": "",
        "subject": "Hello",
    }
