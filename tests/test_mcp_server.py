"""Orchestrate as an MCP server (issue 13): the SDK's own client against a live daphne.

A workspace's endpoint is /mcp/<workspace id>/; a member's personal API
token lets an MCP client submit a request and read its run. Without a
token the endpoint refuses (401); another workspace's runs stay invisible;
approving is not offered at all.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client

from orchestration.models import ExecutionStatus
from safety.models import ApprovalStatus
from tenancy.tokens import create_token
from tests.factories.orchestration import ExecutionFactory
from tests.factories.safety import PendingApprovalFactory
from tests.support.live_server import LiveServer, live_server
from tests.support.polling import eventually

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server() -> Iterator[LiveServer]:
    with live_server(ORCHESTRATE_EMBEDDED_SCHEDULER="false") as running:
        yield running


def endpoint(server: LiveServer, workspace: Any) -> str:
    return f"{server.url}/mcp/{workspace.pk}/"


@contextlib.asynccontextmanager
async def connected(url: str, token: str | None) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http), cache=None) as client,
    ):
        yield client


def call(url: str, token: str | None, tool: str, **arguments: Any) -> Any:
    """One tool call over a fresh connection: the result's structured content, or its text on error."""

    async def go() -> Any:
        async with connected(url, token) as client:
            result = await client.call_tool(tool, arguments)
            if result.is_error:
                return {"error": result.content[0].text}  # type: ignore[union-attr]
            return result.structured_content

    return anyio.run(go)


def tool_names(url: str, token: str) -> set[str]:
    async def go() -> set[str]:
        async with connected(url, token) as client:
            return {tool.name for tool in (await client.list_tools()).tools}

    return anyio.run(go)


def test_it_submits_a_request_and_reads_its_result(server, alice, workspace_a):
    token = create_token(alice, "mcp client").secret
    url = endpoint(server, workspace_a)
    assert tool_names(url, token) == {"submit_request", "get_run", "list_pending_approvals"}
    submitted = call(url, token, "submit_request", request="list the files in the drive")
    run_id = submitted["run_id"]

    def finished() -> Any:
        run = call(url, token, "get_run", run_id=run_id)
        return run if run["status"] in {ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED} else None

    run = eventually(finished, what="the run to finish", timeout=60)
    assert run["status"] == ExecutionStatus.SUCCEEDED, run["error"]
    assert run["user"] == "alice"
    assert run["workspace"] == str(workspace_a.pk)
    assert [step["tool"] for step in run["steps"]] == ["drive.list"]
    assert run["result"] is not None


def test_it_refuses_a_client_without_a_valid_token(server, workspace_a):
    url = endpoint(server, workspace_a)
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    for headers in ({}, {"Authorization": "Bearer orc_not-a-token"}):
        answer = httpx2.post(url, json=body, headers={**headers, "Accept": "application/json, text/event-stream"})
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"].startswith("Bearer")
    with pytest.raises(ExceptionGroup) as refused:  # the SDK's task groups carry its error for the 401
        tool_names(url, "")
    assert refused.group_contains(MCPError, match="Server returned an error response", depth=None)


def test_it_keeps_another_workspaces_runs_invisible(server, alice, charlie, workspace_a, workspace_b):
    theirs = ExecutionFactory.create(workspace=workspace_b, user=charlie, request="charlie's secret plans")
    token = create_token(alice, "mcp client").secret
    answer = call(endpoint(server, workspace_a), token, "get_run", run_id=str(theirs.pk))
    assert answer == {"error": f"Error executing tool get_run: No run '{theirs.pk}' in this workspace."}
    # Nor through the other workspace's endpoint: to alice it does not exist.
    refused = httpx2.post(
        endpoint(server, workspace_b),
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"},
    )
    assert refused.status_code == 404
    assert "charlie" not in refused.text


def test_it_lists_pending_approvals_and_offers_no_way_to_decide_them(server, alice, charlie, workspace_a, workspace_b):
    mine = PendingApprovalFactory.create(execution=ExecutionFactory.create(workspace=workspace_a, user=alice))
    PendingApprovalFactory.create(execution=ExecutionFactory.create(workspace=workspace_b, user=charlie))
    token = create_token(alice, "mcp client").secret
    url = endpoint(server, workspace_a)
    listed = call(url, token, "list_pending_approvals")["approvals"]
    assert [approval["id"] for approval in listed] == [str(mine.pk)]
    assert not {name for name in tool_names(url, token) if "approv" in name and name != "list_pending_approvals"}
    answer = call(url, token, "approve", approval_id=str(mine.pk))
    assert "approve" in json.dumps(answer)  # an unknown tool: nothing decided
    mine.refresh_from_db()
    assert mine.status == ApprovalStatus.PENDING


def test_it_limits_requests_per_token(alice, workspace_a):
    token = create_token(alice, "mcp client").secret
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"}
    with live_server(ORCHESTRATE_EMBEDDED_SCHEDULER="false", API_RATE_LIMIT="3/min") as limited:
        answers = [httpx2.post(endpoint(limited, workspace_a), json=body, headers=headers) for _ in range(4)]
    assert all(answer.status_code != 429 for answer in answers[:3])
    assert answers[3].status_code == 429
    assert "3/min" in answers[3].text
