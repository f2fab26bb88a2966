"""View-test mixins: every page and action gets its access tests by declaring what it is.

A test class per view (per URL route and method) says which route it
covers, how to build its URL and request from `world` (workspace A with a
run, an approval, a member, a grant, files), and which action of the
permission matrix (`tenancy.roles.ROLE_ACTIONS`) it needs:

    class TestExecutionPage(ViewTests, HtmxFragmentTests):
        route = "orchestrate/executions/<uuid:execution_id>/"
        action = Action.VIEW

        def url(self, world: World) -> str:
            return f"/orchestrate/executions/{world.running.pk}/"

and inherits:

- `AnonymousRedirectedTests`: a signed-out visitor is sent to the login page;
- `NonMemberNotFoundTests`: charlie (a member of B only) gets 404 for A's object;
- `RoleMatrixTests`: a member of A with each role is allowed or refused as
  the matrix says (`allowed()` / `refused()` may look at what changed);
- `HtmxFragmentTests` (pages that have one): htmx gets a fragment, a browser the page.

`ViewTests` is the first three together. Every class registers its route;
tests/test_views.py fails when a URL pattern has no class (or a reason to be
left out), so a new page cannot ship without these tests.

The websocket half: `SocketTests` does the same for websocket routes
(anonymous and non-members are accepted, then closed with 4403 before anything is sent) and registers the route
in `SOCKET_ROUTES`, which tests/test_views.py checks against
`config.routing.websocket_urlpatterns`. A consumer's own tests subclass it.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver

from orchestration.engine.outputs import STORED, output_path
from orchestration.models import Execution, ExecutionStatus, StepStatus
from safety.models import PendingApproval
from tenancy.models import Workspace, WorkspaceMember, WorkspacePermission
from tenancy.roles import ROLE_ACTIONS, ResourceType, Role
from tests.factories.orchestration import ExecutionFactory, ExecutionStepFactory
from tests.factories.safety import PendingApprovalFactory
from tests.factories.tenancy import MemberFactory, UserFactory
from tests.support.sockets import socket_headers, socket_stack
from tools.drive import WorkspaceDrive

LOGIN = "/accounts/login/"
HTMX = {"HX-Request": "true"}

# route -> the test classes that cover it; filled as test modules are imported.
VIEW_ROUTES: dict[str, list[type]] = defaultdict(list)
SOCKET_ROUTES: dict[str, list[type]] = defaultdict(list)


@dataclass
class World:
    """Workspace A as the view tests see it: alice owns it; victor is a viewer; objects of each kind."""

    workspace: Workspace
    alice: User
    victor: User
    victor_membership: WorkspaceMember
    newcomer: User  # signed up, in no workspace: someone to add
    running: Execution  # may be cancelled
    failed: Execution  # may be resumed
    approval: PendingApproval  # pending, on the running run
    grant: WorkspacePermission  # victor may approve e-mail
    file_name: str  # in A's drive

    def secrets(self) -> list[str]:
        """Text only A's members may see."""
        return [self.running.request, self.failed.request, self.file_name]


@pytest.fixture
def world(alice: User, victor: User, workspace_a: Workspace) -> World:
    running = ExecutionFactory.create(
        workspace=workspace_a, user=alice, status=ExecutionStatus.RUNNING, total_steps=1, request="Running report"
    )
    # Where the engine keeps a large output: the download serves nothing else.
    path = output_path(workspace_id=workspace_a.pk, execution_id=running.pk, step_number=1)
    if default_storage.exists(path):
        default_storage.delete(path)
    stored = default_storage.save(path, ContentFile(b'{"rows": 3}'))
    ExecutionStepFactory.create(
        execution=running, step_number=1, status=StepStatus.SUCCEEDED, output={STORED: stored, "preview": "{"}
    )
    failed = ExecutionFactory.create(
        workspace=workspace_a, user=alice, status=ExecutionStatus.FAILED, total_steps=1, request="Failed report"
    )
    ExecutionStepFactory.create(execution=failed, step_number=1, status=StepStatus.FAILED, tool="test.noop")
    WorkspaceDrive(workspace_a.pk).write_text("sales.csv", "region,revenue\nnorth,1200\n")
    return World(
        workspace=workspace_a,
        alice=alice,
        victor=victor,
        victor_membership=WorkspaceMember.objects.get(workspace=workspace_a, user=victor),
        newcomer=UserFactory.create(username="newcomer"),
        running=running,
        failed=failed,
        approval=PendingApprovalFactory.create(execution=running),
        grant=WorkspacePermission.objects.create(
            workspace=workspace_a,
            user=victor,
            resource_type=ResourceType.TOOL,
            resource_id="email",
            permissions=["approve"],
        ),
        file_name="sales.csv",
    )


def url_routes(patterns: list[URLPattern | URLResolver], prefix: str = "") -> list[str]:
    """Every route below the patterns, as its full path() string."""
    routes = []
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            routes.extend(url_routes(entry.url_patterns, route))
        else:
            routes.append(route)
    return routes


class ViewTestCase:
    """What a view is: its route, method, the action it needs, and how to call it."""

    route: ClassVar[str]
    method: ClassVar[str] = "GET"
    # The action of the permission matrix the view needs in A; None: any signed-in user.
    action: ClassVar[str | None]
    # Whether the URL (or the form) names an object of workspace A.
    scoped: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "route" in cls.__dict__:
            VIEW_ROUTES[cls.route].append(cls)

    def url(self, world: World) -> str:
        raise NotImplementedError

    def data(self, world: World) -> dict[str, Any]:
        return {}

    def call(self, client: Client, world: World, headers: dict[str, str] | None = None) -> HttpResponse:
        url = self.url(world)
        if self.method == "POST":
            return client.post(url, self.data(world), headers=headers)  # type: ignore[return-value]
        return client.get(url, headers=headers)  # type: ignore[return-value]

    def allowed(self, response: HttpResponse, world: World) -> bool:
        """Whether the response shows the view did its work for an allowed member."""
        return response.status_code in (200, 302)

    def refused(self, response: HttpResponse, world: World) -> bool:
        """Whether the response shows the view refused a member whose role lacks the action."""
        return response.status_code == 403


class AnonymousRedirectedTests(ViewTestCase):
    def test_it_sends_anonymous_visitors_to_the_login_page(self, client: Client, world: World) -> None:
        response = self.call(client, world)
        assert response.status_code == 302, response.status_code
        assert response["Location"].startswith(LOGIN + "?next="), response["Location"]


def body(response: HttpResponse) -> str:
    """The response's text, streamed or not."""
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")  # type: ignore[attr-defined]
    return response.content.decode(errors="replace")


class NonMemberNotFoundTests(ViewTestCase):
    def test_it_answers_404_to_a_non_member(self, client: Client, charlie: User, world: World) -> None:
        """A's object in the URL: 404, as if it did not exist. No object in the URL (charlie's own
        console, queue, workspaces): it answers, showing nothing of A."""
        client.force_login(charlie)
        response = self.call(client, world)
        if self.scoped:
            assert response.status_code == 404, response.status_code
        else:
            assert response.status_code < 500, response.status_code
            shown = [text for text in world.secrets() if text in body(response)]
            assert not shown, f"showed charlie {shown}"


class RoleMatrixTests(ViewTestCase):
    @pytest.mark.parametrize("role", Role.values)
    def test_it_allows_or_refuses_each_role_as_the_matrix_says(self, client: Client, world: World, role: str) -> None:
        member = UserFactory.create(username=f"{role}-of-a")
        MemberFactory.create(workspace=world.workspace, user=member, role=role)
        client.force_login(member)
        response = self.call(client, world)
        if self.action is None or self.action in ROLE_ACTIONS[role]:
            assert self.allowed(response, world), f"{role} refused: {response.status_code}"
        else:
            assert self.refused(response, world), f"{role} allowed: {response.status_code}"


class ViewTests(AnonymousRedirectedTests, NonMemberNotFoundTests, RoleMatrixTests):
    """The access tests every view gets."""


class HtmxFragmentTests(ViewTestCase):
    """For a page that htmx also asks for a part of: a fragment for htmx, the whole page otherwise."""

    htmx_headers: ClassVar[dict[str, str]] = HTMX
    # Text the fragment must contain (an element id), so an empty answer does not pass.
    fragment_marker: ClassVar[str]

    def test_it_answers_htmx_with_a_fragment_and_a_browser_with_the_page(self, client: Client, world: World) -> None:
        client.force_login(world.alice)
        page = self.call(client, world).content.decode()
        fragment = self.call(client, world, headers=self.htmx_headers).content.decode()
        assert "<html" in page
        assert "<html" not in fragment
        assert self.fragment_marker in fragment


# The one refusal idiom of the consumers (docs/architecture.md, "Websocket consumers"):
# accept, then close with 4403 before saying anything.
REFUSED = {"type": "websocket.close", "code": 4403}


async def _refused(path: str, headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether the socket is turned away the documented way: accepted, then closed with 4403."""
    communicator = WebsocketCommunicator(socket_stack(), path, headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    if not connected:
        return False  # a refused handshake: browsers see 1006 and the htmx ws extension retries
    try:
        output = await communicator.receive_output(timeout=2)
    except TimeoutError:
        return False  # accepted and silent: left open
    finally:
        with contextlib.suppress(Exception):
            await communicator.disconnect()
    return output == REFUSED


async def _caught_up(path: str, headers: list[tuple[bytes, bytes]]) -> str:
    """What the socket sends on connecting (its catch-up), until it falls quiet."""
    communicator = WebsocketCommunicator(socket_stack(), path, headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert connected, f"{path}: refused a signed-in user their own stream"
    said = []
    while not await communicator.receive_nothing(timeout=0.5):
        said.append(str(await communicator.receive_output()))
    await communicator.disconnect()
    return "".join(said)


class SocketTests:
    """Access tests for a websocket route; subclass with `route` and `path(world)`."""

    route: ClassVar[str]
    scoped: ClassVar[bool] = True  # the path names an object of workspace A

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "route" in cls.__dict__:
            SOCKET_ROUTES[cls.route].append(cls)

    def path(self, world: World) -> str:
        raise NotImplementedError

    @pytest.mark.django_db(transaction=True)
    def test_it_turns_anonymous_sockets_away(self, world: World) -> None:
        assert async_to_sync(_refused)(self.path(world), socket_headers())

    @pytest.mark.django_db(transaction=True)
    def test_it_turns_a_non_member_away(self, world: World, charlie: User) -> None:
        """A's object in the path: turned away. A stream of the user's own workspaces: what it
        sends on connecting shows nothing of A (tests/test_isolation.py also publishes A's events)."""
        if self.scoped:
            assert async_to_sync(_refused)(self.path(world), socket_headers(charlie))
            return
        heard = async_to_sync(_caught_up)(self.path(world), socket_headers(charlie))
        shown = [text for text in world.secrets() if text in heard]
        assert not shown, f"told charlie {shown}"
