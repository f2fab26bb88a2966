"""No URL of the project shows or changes workspace A's rows to charlie, a member of workspace B only.

Every URL pattern is walked (so a new page joins the walk by existing), its
parameters filled with ids of A's objects, and requested as charlie with GET,
an htmx GET and a POST. A URL with a parameter this file cannot fill fails
the test: add the parameter to `fill_values`. Every websocket route is tried
the same way. A's objects come from real runs, so steps, messages, context,
logs, a report and a pending approval exist.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from config.routing import websocket_urlpatterns
from learning.models import ExecutionFeedback, LearnedPattern, PatternType, PromptVersion, RunRating
from orchestration import publishing
from orchestration.engine.runs import submit
from orchestration.models import Execution, ExecutionStatus, ExecutionStep
from safety.models import PendingApproval
from tenancy.models import Workspace, WorkspaceInvitation, WorkspaceMember, WorkspacePermission
from tenancy.roles import ResourceType
from tenancy.tokens import create_token
from tests.factories.tenancy import UserFactory
from tests.support.engine import wait_for
from tests.support.polling import eventually
from tests.support.runs import critical_run
from tests.support.sockets import socket_headers, socket_stack
from tools.drive import WorkspaceDrive
from tools.frozen import freeze
from tools.models import ToolCatalog, ToolType, WorkspaceToolSetting
from tools.services.workspace_tools import change_tool_setting
from tools_mcp.models import McpServer, Transport
from versioning.models import ABTest, ABTestStatus, PlanVersion
from webhooks.services import create_webhook

pytestmark = pytest.mark.usefixtures("engine")

NAME = "Zebracorn Secret Labs"
REPORT_REQUEST = "summarise the sales CSV files and write a report"
CRITICAL_REQUEST = "Append the zebracorn audit line"
FILE = "zebracorn_sales_q1.csv"
SECRETS = (NAME, REPORT_REQUEST, CRITICAL_REQUEST, FILE, "zebracorn")

# Patterns not walked, each with the reason.
SKIPPED = {
    "admin/": "the Django admin: staff only, and its scoping is tested in tests/test_admin.py",
    "accounts/login/": "public by design; it shows a form and nothing of any workspace",
    "accounts/logout/": "ends charlie's own session only",
    "calendar/<str:token>.ics": "a capability URL: the workspace's secret feed token is the access check "
    "(tests/test_calendar_feed.py); filling it with A's token would hand charlie the secret",
    "hooks/<str:public_id>/": "public by design for senders, who cannot log in: the HMAC signature is the access "
    "check (tests/test_webhooks_inbound.py refuses unsigned and wrongly signed requests)",
    "api/": "the REST API answers tokens, not the console's walk: its own isolation tests (tests/test_api.py, "
    "another workspace's ids get 404 everywhere) and schemathesis (tests/test_api_schemathesis.py)",
}
PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>\w+)>")
LOGIN = "/accounts/login/"
# Streams take options in their query string (a page's filters, which page it is).
QUERIES = ("", "?page=approvals", "?status=&q=&page=1")


@pytest.fixture
def a_objects(alice, bob, charlie, workspace_a, workspace_b):
    """Workspace A with a finished report run, a run waiting for approval, files and a grant."""
    workspace_a.name = NAME
    workspace_a.save(update_fields=["name"])
    drive = WorkspaceDrive(workspace_a.pk)
    drive.write_text(FILE, "region,revenue\nnorth,1200.50\nsouth,800\n")
    drive.write_text("data/zebracorn_sales_q2.csv", "region,revenue\nwest,950.25\n")
    report = wait_for(submit(user=alice, workspace=workspace_a, request_text=REPORT_REQUEST))
    assert report.status == ExecutionStatus.SUCCEEDED, report.error
    waiting, approval = critical_run(alice, workspace_a, request_text=CRITICAL_REQUEST, label="zebracorn")
    grant = WorkspacePermission.objects.create(
        workspace=workspace_a, user=bob, resource_type=ResourceType.TOOL, resource_id="email", permissions=["approve"]
    )
    # A file frozen for the approval, as an e-mail's attachment is.
    frozen = freeze(workspace_a.pk, drive.read_bytes(FILE))
    PendingApproval.objects.filter(execution=waiting).update(bound_files=[{"name": FILE, "sha256": frozen, "bytes": 1}])
    approval.refresh_from_db()
    invitation = WorkspaceInvitation.objects.create(
        workspace=workspace_a, identifier="dave", user=UserFactory.create(username="dave"), role="viewer"
    )
    # A tool switched off in A: charlie's catalogue shows and changes only his workspace's switches.
    change_tool_setting(alice, workspace_a, "web.get", enabled=False)
    webhook = create_webhook(
        alice, workspace_a, name="Zebracorn orders", trigger_type="http", action_config={"request": "Hi"}
    ).webhook
    mcp_server = McpServer.objects.create(
        workspace=workspace_a, name="zebracorn", transport=Transport.HTTP, url="https://mcp.example.com/mcp"
    )
    ToolCatalog.objects.create(
        workspace=workspace_a,
        name="mcp.zebracorn.audit",
        tool_type=ToolType.MCP,
        metadata={"server_id": str(mcp_server.pk), "server": "zebracorn", "tool": "audit", "available": True},
        last_discovered_at=timezone.now(),
    )
    # What learning keeps of A: the patterns mined from the report run (once learning has read it, so the
    # walk sees them still), a pattern made here and an A/B test.
    eventually(
        lambda: ExecutionFeedback.objects.filter(execution=report, learned_at__isnull=False).exists(),
        what="learning to read the report run",
    )
    pattern, _ = LearnedPattern.objects.get_or_create(
        workspace=workspace_a,
        pattern_type=PatternType.REQUEST_PLAN,
        key="zebracorn",
        defaults={"description": "zebracorn -> Analysis", "signature": "en|analyse|files", "plan_template": []},
    )
    test = ABTest.objects.create(
        workspace=workspace_a,
        name="Zebracorn plans",
        subject="en|analyse|files",
        variant_a={"label": "zebracorn one", "template": []},
        variant_b={"label": "zebracorn two", "template": []},
        status=ABTestStatus.RUNNING,
        results={"decided": True, "leader": "B", "p_value": 0.001, "alpha": 0.05, "A": {}, "B": {}},
        auto_promote=False,
    )
    return {
        "pattern": pattern,
        "ab_test": test,
        "workspace": workspace_a,
        "mcp_server": mcp_server,
        "invitation": invitation,
        "webhook": webhook,
        "token": create_token(alice, "zebracorn").token,
        "report": report,
        "waiting": waiting,
        "approval": approval,
        "grant": grant,
        "member": WorkspaceMember.objects.get(workspace=workspace_a, user=bob),
        "own_workspace": workspace_b,
    }


def fill_values(name: str, converter: str | None, route: str, a: dict[str, Any]) -> list[tuple[str, bool]]:
    """Values for one URL parameter, each with whether it is A's; every combination is tried.

    charlie's own workspace is tried beside A's: a view that checks the
    workspace in the URL but then loads A's member, grant or file by its id
    alone would let charlie reach A through B.
    """
    runs = [str(a["report"].pk), str(a["waiting"].pk)]
    by_name: dict[str, list[str]] = {
        "execution_id": runs,
        "step_number": ["1", "3"],
        "index": ["1"],
        "approval_id": [str(a["approval"].pk)],
        "sha256": [a["approval"].bound_files[0]["sha256"]],
        "username": ["alice", "bob"],
        "member_id": [str(a["member"].pk)],
        "grant_id": [str(a["grant"].pk)],
        "invitation_id": [str(a["invitation"].pk)],
        "webhook_id": [str(a["webhook"].pk)],
        "token_id": [str(a["token"].pk)],
        "permission_id": [str(a["grant"].pk)],
        "server_id": [str(a["mcp_server"].pk)],
        "name": [FILE, "data/zebracorn_sales_q2.csv", "reports/summarise-the-sales-csv-files.md"],
        "pattern_id": [str(a["pattern"].pk)],
        "test_id": [str(a["ab_test"].pk)],
        "version": ["1"],
    }
    # Prompts are shared by every workspace, not A's: charlie may read them.
    if name == "agent_id":
        return [("planner", False)]
    if name == "version_id":
        return [(str(PromptVersion.objects.get(agent_id="planner", version=1).pk), False)]
    if name == "workspace_id":
        return [(str(a["workspace"].pk), True), (str(a["own_workspace"].pk), False)]
    if name in by_name:
        return [(value, True) for value in by_name[name]]
    pytest.fail(f"{route}: no object of workspace A for the parameter <{converter or 'str'}:{name}>; add it here")


def walk(patterns: list, prefix: str = "") -> list[str]:
    """Every route below the patterns, as its full path() string, minus the SKIPPED ones."""
    routes = []
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if route in SKIPPED:
            continue
        if isinstance(entry, URLResolver):
            routes.extend(walk(entry.url_patterns, route))
            continue
        assert isinstance(entry, URLPattern)
        assert not route.startswith("^"), f"{route}: a regex pattern; give it a path() route so it can be walked"
        routes.append(route)
    return routes


def _missing(value: str) -> str:
    if value.isdigit():
        return "987654"
    with contextlib.suppress(ValueError):
        return str(uuid.UUID(value) and uuid.uuid4())
    return f"nothing-{value}"


def _fill(route: str, values: Iterator[str]) -> str:
    return "/" + PARAMETER.sub(lambda _m: next(values), route)


def urls_for(route: str, a: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(url, control) for each combination naming at least one of A's objects; the control
    names objects that do not exist instead. Routes without parameters: (url, None)."""
    names = [(match["name"], match["converter"]) for match in PARAMETER.finditer(route)]
    if not names:
        return [("/" + route, None)]
    choices = [fill_values(name, converter, route, a) for name, converter in names]
    urls: list[tuple[str, str | None]] = []
    for values in itertools.product(*choices):
        if not any(is_a for _, is_a in values):
            continue  # charlie's own objects only: his to see
        real = iter(value for value, _ in values)
        control = iter(_missing(value) if is_a else value for value, is_a in values)
        urls.append((_fill(route, real), _fill(route, control)))
    return urls


def a_state(a: dict[str, Any]) -> dict[str, Any]:
    workspace = a["workspace"]
    return {
        "workspace": list(Workspace.objects.filter(pk=workspace.pk).values_list("name", "integrations")),
        "executions": sorted(
            Execution.objects.filter(workspace=workspace).values_list("pk", "status", "request", "current_step")
        ),
        "steps": sorted(ExecutionStep.objects.filter(execution__workspace=workspace).values_list("pk", "status")),
        "members": sorted(WorkspaceMember.objects.filter(workspace=workspace).values_list("user__username", "role")),
        "approvals": sorted(
            PendingApproval.objects.filter(execution__workspace=workspace).values_list(
                "pk", "status", "resolved_by_id", "comment"
            )
        ),
        "grants": sorted(
            (g.pk, g.user_id, g.resource_type, g.resource_id, tuple(g.permissions))
            for g in WorkspacePermission.objects.filter(workspace=workspace)
        ),
        "files": sorted(f.name for f in WorkspaceDrive(workspace.pk).list()),
        "invitations": sorted(WorkspaceInvitation.objects.filter(workspace=workspace).values_list("pk", "role")),
        "mcp_servers": sorted(
            (server.pk, server.name, server.enabled, server.url, server.last_discovered_at)
            for server in McpServer.objects.filter(workspace=workspace)
        ),
        "mcp_tools": sorted(ToolCatalog.objects.filter(workspace=workspace).values_list("name", "last_discovered_at")),
        "patterns": sorted(LearnedPattern.objects.filter(workspace=workspace).values_list("pk", "enabled")),
        "ab_tests": sorted(ABTest.objects.filter(workspace=workspace).values_list("pk", "status")),
        "ratings": sorted(RunRating.objects.filter(execution__workspace=workspace).values_list("pk", "rating")),
        "plan_versions": sorted(PlanVersion.objects.filter(plan__workspace=workspace).values_list("pk", "version")),
        "tool_settings": sorted(
            WorkspaceToolSetting.objects.filter(workspace=workspace).values_list(
                "tool_name", "enabled", "approval_waived"
            )
        ),
    }


def _post_data(a: dict[str, Any]) -> dict[str, Any]:
    """What a hostile form might send: A's ids in every field a view could trust."""
    workspace = str(a["workspace"].pk)
    return {
        "decision": "approve",
        "comment": "charlie was here",
        "request": "charlie's run",
        "workspace": workspace,
        "workspace_id": workspace,
        "user": "charlie",
        "role": "owner",
        "name": "Taken over",
        "next": "/orchestrate",
        "files": SimpleUploadedFile("charlie.csv", b"a,b\n1,2\n"),
    }


def _refused(response, control) -> bool:
    if response.status_code in (403, 404, 405):
        return True
    location = response.headers.get("Location", "")
    if response.status_code in (301, 302, 303) and location.startswith(LOGIN):
        return True
    # Otherwise A's object must be indistinguishable from one that does not exist.
    return (response.status_code, location) == (control.status_code, control.headers.get("Location", ""))


def _body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def test_it_shows_and_changes_nothing_of_workspace_a_to_charlie_on_any_url(client, charlie, a_objects):
    a = a_objects
    routes = walk(get_resolver().url_patterns)
    assert "orchestrate/executions/<uuid:execution_id>/" in routes, routes
    client.force_login(charlie)
    before = a_state(a)
    problems = []
    for route in routes:
        for url, control_url in urls_for(route, a):
            attempts = {
                "GET": lambda u=url: client.get(u),
                "htmx GET": lambda u=url: client.get(u, headers={"HX-Request": "true"}),
                "POST": lambda u=url: client.post(u, _post_data(a)),
            }
            controls = {
                "GET": lambda u=control_url: client.get(u),
                "htmx GET": lambda u=control_url: client.get(u, headers={"HX-Request": "true"}),
                "POST": lambda u=control_url: client.post(u, _post_data(a)),
            }
            for method, attempt in attempts.items():
                response = attempt()
                body = _body(response)
                leaked = [secret for secret in SECRETS if secret.lower() in body.lower()]
                if leaked:
                    problems.append(f"{method} {url}: {response.status_code} shows {leaked}")
                if control_url is not None and not _refused(response, controls[method]()):
                    problems.append(f"{method} {url}: answered {response.status_code}, not refused")
                after = a_state(a)
                if after != before:
                    changed = [key for key in before if before[key] != after[key]]
                    problems.append(f"{method} {url}: changed A's {changed}")
                    before = after
    assert not problems, "\n".join(problems)


async def _drain(communicator: WebsocketCommunicator) -> str:
    said = []
    while not await communicator.receive_nothing(timeout=0.5):
        said.append(str(await communicator.receive_output()))
    return "".join(said)


def test_it_refuses_charlie_every_websocket_stream_of_workspace_a(alice, charlie, a_objects):
    a = a_objects
    stack = socket_stack()
    routes = walk(websocket_urlpatterns)
    assert "ws/executions/<uuid:execution_id>/" in routes, routes
    as_charlie, as_alice = socket_headers(charlie), socket_headers(alice)

    async def refused(path: str) -> list[str]:
        communicator = WebsocketCommunicator(stack, path, headers=as_charlie)
        connected, _ = await communicator.connect(timeout=5)
        if not connected:
            return []
        output = await communicator.receive_output(timeout=5)  # accepted, then closed before saying anything
        await communicator.disconnect()
        return [] if output == {"type": "websocket.close", "code": 4403} else [f"{path}: sent {str(output)[:200]}"]

    async def hears_nothing_of_a(path: str) -> list[str]:
        charlie_socket = WebsocketCommunicator(stack, path, headers=as_charlie)
        alice_socket = WebsocketCommunicator(stack, path, headers=as_alice)
        assert (await charlie_socket.connect(timeout=5))[0], f"{path}: charlie's own stream refused him"
        assert (await alice_socket.connect(timeout=5))[0], f"{path}: alice's own stream refused her"
        problems = []
        caught_up = await _drain(charlie_socket)
        await _drain(alice_socket)
        leaked = [secret for secret in SECRETS if secret.lower() in caught_up.lower()]
        if leaked:
            problems.append(f"{path}: showed charlie {leaked} on connecting")
        # Worker threads publish onto this loop, as they do onto the server's (publishing.bind_server_loop).
        previous, publishing._server_loop = publishing._server_loop, asyncio.get_running_loop()
        try:
            await database_sync_to_async(publishing.publish_execution)(a["report"].pk)
            await database_sync_to_async(publishing.publish_approval)(a["approval"].pk)
        finally:
            publishing._server_loop = previous
        heard = await _drain(charlie_socket)
        if heard:
            problems.append(f"{path}: sent charlie {heard[:300]}")
        assert await _drain(alice_socket), f"{path}: alice heard nothing either, so this proves nothing"
        await charlie_socket.disconnect()
        await alice_socket.disconnect()
        return problems

    problems = []
    for route in routes:
        for (path, control), query in itertools.product(urls_for(route, a), QUERIES):
            check = refused if control is not None else hears_nothing_of_a
            problems += async_to_sync(check)(path + query)
    assert not problems, "\n".join(problems)
