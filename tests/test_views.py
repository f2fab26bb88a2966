"""Every page, action and websocket route, with the access tests of tests/support/views.py.

One class per route and method: anonymous visitors are sent to log in,
charlie (not in A) gets 404 for A's objects, each role of A is allowed or
refused as `tenancy.roles.ROLE_ACTIONS` says, and pages htmx asks for a part
of answer it with a fragment. The last tests fail when a URL pattern or a
websocket route has no class here (or in a consumer's own tests).
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.test import Client
from django.urls import get_resolver
from django.utils import timezone

from config.routing import websocket_urlpatterns
from learning.models import LearnedPattern, PatternType, PromptVersion, RunRating
from orchestration.models import Execution, ExecutionStatus
from plugins.models import Plugin
from safety.models import ApprovalStatus, PendingApproval
from tenancy.models import ApiToken, WorkspaceInvitation, WorkspaceMember, WorkspacePermission
from tenancy.roles import Action, Role
from tenancy.tokens import create_token
from tests.factories.tenancy import MemberFactory, UserFactory
from tests.support.views import (
    HTMX,
    SOCKET_ROUTES,
    VIEW_ROUTES,
    HtmxFragmentTests,
    NonMemberNotFoundTests,
    RoleMatrixTests,
    SocketTests,
    ViewTests,
    World,
    body,
    url_routes,
)
from tools.frozen import freeze
from tools.models import ToolCatalog, ToolType
from tools.services.workspace_tools import is_tool_enabled
from tools_mcp.marking import marked_safe
from tools_mcp.models import McpServer, Transport
from versioning.models import ABTest, ABTestStatus, PlanVersion
from webhooks.models import FiringSource, Webhook, WebhookExecution
from webhooks.services import create_webhook

pytestmark = pytest.mark.django_db

# Routes with no view tests, each with the reason.
NOT_VIEWS = {
    "": "a redirect to /orchestrate, for everyone",
    "accounts/login/": "public by design: the login form",
    "accounts/logout/": "ends the visitor's own session",
    "calendar/<str:token>.ics": "a capability URL for calendar apps, which cannot log in: the secret token is the "
    "access check (tests/test_calendar_feed.py)",
    "admin/": "the Django admin: staff only, its own login and permissions (tests/test_admin.py)",
    "metrics": "Prometheus scrapers have no session: an address allow-list or a bearer token is the access check "
    "(tests/test_monitoring_metrics_endpoint.py)",
    "api/": "the REST API: token or session auth, problem-details answers, its own scoping and role tests "
    "(tests/test_api.py) and schemathesis over every operation (tests/test_api_schemathesis.py)",
    "hooks/<str:public_id>/": "public by design for senders, who cannot log in: the HMAC signature is the access "
    "check (tests/test_webhooks_inbound.py)",
}


# --- monitoring (monitoring.views) ---


class TestMonitoringDashboard(ViewTests, HtmxFragmentTests):
    route = "monitoring/"
    action = None  # everyone sees the figures of their own workspaces, if any
    scoped = False
    htmx_headers: ClassVar[dict[str, str]] = {**HTMX, "HX-Target": "dashboard-panels"}
    fragment_marker = 'id="dashboard-panels"'

    def url(self, world: World) -> str:
        return "/monitoring/"


class TestMonitoringLogs(ViewTests):
    route = "monitoring/logs/"
    action = None
    scoped = False

    def url(self, world: World) -> str:
        return "/monitoring/logs/"


class TestMonitoringLogsTail(ViewTests):
    route = "monitoring/logs/tail"
    action = None
    scoped = False

    def url(self, world: World) -> str:
        return "/monitoring/logs/tail?after=0"


class TestWaterfall(ViewTests):
    route = "monitoring/executions/<uuid:execution_id>/waterfall"
    action = Action.VIEW

    def url(self, world: World) -> str:
        return f"/monitoring/executions/{world.running.pk}/waterfall"


# --- the console (orchestration.views) ---


class TestConsolePage(ViewTests, HtmxFragmentTests):
    route = "orchestrate"
    action = None  # every signed-in user has a console, if only to learn how to join a workspace
    scoped = False
    htmx_headers: ClassVar[dict[str, str]] = {**HTMX, "HX-Target": "executions-list"}
    fragment_marker = 'id="executions-list"'

    def url(self, world: World) -> str:
        return "/orchestrate"


class TestSubmit(ViewTests):
    route = "orchestrate"
    method = "POST"
    action = Action.RUN
    scoped = False

    def url(self, world: World) -> str:
        return "/orchestrate"

    def data(self, world: World) -> dict[str, Any]:
        return {"request": "Summarise the sales files"}

    def allowed(self, response: HttpResponse, world: World) -> bool:
        made = Execution.objects.filter(request="Summarise the sales files").first()
        return made is not None and response["Location"] == f"/orchestrate/executions/{made.pk}/"

    def refused(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 403 and not Execution.objects.filter(request="Summarise the sales files")


class TestUpload(ViewTests):
    route = "orchestrate/files/"
    method = "POST"
    action = Action.RUN
    scoped = False

    def url(self, world: World) -> str:
        return "/orchestrate/files/"

    def data(self, world: World) -> dict[str, Any]:
        return {"files": SimpleUploadedFile("uploaded.csv", b"a,b\n1,2\n")}

    def allowed(self, response: HttpResponse, world: World) -> bool:
        from tools.drive import WorkspaceDrive

        return response.status_code == 302 and WorkspaceDrive(world.workspace.pk).exists("uploaded.csv")


class TestDriveFile(ViewTests):
    route = "orchestrate/files/<uuid:workspace_id>/<path:name>"
    action = Action.VIEW

    def url(self, world: World) -> str:
        return f"/orchestrate/files/{world.workspace.pk}/{world.file_name}"

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 200 and "north,1200" in body(response)


class TestExecutionPage(ViewTests, HtmxFragmentTests):
    route = "orchestrate/executions/<uuid:execution_id>/"
    action = Action.VIEW
    fragment_marker = "hx-swap-oob"

    def url(self, world: World) -> str:
        return f"/orchestrate/executions/{world.running.pk}/"


class TestCancel(ViewTests):
    route = "orchestrate/executions/<uuid:execution_id>/cancel"
    method = "POST"
    action = Action.CANCEL

    def url(self, world: World) -> str:
        return f"/orchestrate/executions/{world.running.pk}/cancel"

    def _status(self, world: World) -> str:
        return Execution.objects.get(pk=world.running.pk).status

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return self._status(world) == ExecutionStatus.CANCELLED

    def refused(self, response: HttpResponse, world: World) -> bool:
        return self._status(world) == ExecutionStatus.RUNNING


class TestResume(ViewTests):
    route = "orchestrate/executions/<uuid:execution_id>/resume"
    method = "POST"
    action = Action.CANCEL  # retrying and resuming are part of "cancel, retry and resume runs"

    def url(self, world: World) -> str:
        return f"/orchestrate/executions/{world.failed.pk}/resume"

    def _status(self, world: World) -> str:
        return Execution.objects.get(pk=world.failed.pk).status

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return self._status(world) == ExecutionStatus.RUNNING

    def refused(self, response: HttpResponse, world: World) -> bool:
        return self._status(world) == ExecutionStatus.FAILED


class TestStepOutput(ViewTests):
    route = "orchestrate/executions/<uuid:execution_id>/steps/<int:step_number>/output"
    action = Action.VIEW

    def url(self, world: World) -> str:
        return f"/orchestrate/executions/{world.running.pk}/steps/1/output"

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 200 and '"rows": 3' in body(response)


def _waiting_for_answer(world: World) -> Execution:
    found = Execution.objects.filter(workspace=world.workspace, request="summarise the data").first()
    if found is None:
        question = {"field": "files", "text": "Which files should I use?", "hint": "", "candidates": [], "asked_at": ""}
        found = Execution.objects.create(
            workspace=world.workspace,
            user=world.alice,
            request="summarise the data",
            status=ExecutionStatus.WAITING_INPUT,
            question=question,
        )
    return found


class TestAnswer(ViewTests):
    route = "orchestrate/executions/<uuid:execution_id>/answer"
    method = "POST"
    action = Action.RUN

    def url(self, world: World) -> str:
        return f"/orchestrate/executions/{_waiting_for_answer(world).pk}/answer"

    def data(self, world: World) -> dict[str, Any]:
        return {"answer": world.file_name}

    def _status(self, world: World) -> str:
        return Execution.objects.get(pk=_waiting_for_answer(world).pk).status

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 302 and self._status(world) == ExecutionStatus.PENDING

    def refused(self, response: HttpResponse, world: World) -> bool:
        return self._status(world) == ExecutionStatus.WAITING_INPUT


def _planned(world: World) -> Execution:
    found = Execution.objects.filter(workspace=world.workspace, request="planned report").first()
    if found is None:
        found = Execution.objects.create(
            workspace=world.workspace, user=world.alice, request="planned report", status=ExecutionStatus.PLANNED
        )
    return found


class TestRunPlanned(ViewTests):
    route = "orchestrate/executions/<uuid:execution_id>/run"
    method = "POST"
    action = Action.RUN

    def url(self, world: World) -> str:
        return f"/orchestrate/executions/{_planned(world).pk}/run"

    def _status(self, world: World) -> str:
        return Execution.objects.get(pk=_planned(world).pk).status

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 302 and self._status(world) == ExecutionStatus.RUNNING

    def refused(self, response: HttpResponse, world: World) -> bool:
        return self._status(world) == ExecutionStatus.PLANNED


def _kept_message(world: World) -> str:
    """A's one e-mail in the built-in outbox (with an attachment), by its file name."""
    from django.core.mail import EmailMessage

    from orchestration.models import ExecutionStep, StepStatus
    from tools.integrations.email.outbox import OutboxBackend, outbox_file

    message_id = f"<{world.workspace.pk.hex}@orchestrate>"
    if not ExecutionStep.objects.filter(execution=world.running, tool="email.send").exists():
        ExecutionStep.objects.create(
            execution=world.running,
            step_number=2,
            agent_id="email",
            tool="email.send",
            status=StepStatus.SUCCEEDED,
            output={"message_id": message_id},
        )
        message = EmailMessage(
            "Kept", "Hello", "o@example.com", ["bob@example.com"], headers={"Message-ID": message_id}
        )
        message.attach("report.md", "north 1200", "text/markdown")
        OutboxBackend().send_messages([message])
    return outbox_file(message_id).name


class TestOutboxPage(ViewTests):
    route = "orchestrate/outbox/"
    action = Action.VIEW
    scoped = False

    def url(self, world: World) -> str:
        _kept_message(world)
        return "/orchestrate/outbox/"

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 200 and "bob@example.com" in body(response)


class TestOutboxMessage(ViewTests):
    route = "orchestrate/outbox/<str:name>"
    action = Action.VIEW

    def url(self, world: World) -> str:
        return f"/orchestrate/outbox/{_kept_message(world)}"

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 200 and "bob@example.com" in body(response)


class TestOutboxAttachment(ViewTests):
    route = "orchestrate/outbox/<str:name>/<int:index>"
    action = Action.VIEW

    def url(self, world: World) -> str:
        return f"/orchestrate/outbox/{_kept_message(world)}/1"

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 200 and body(response) == "north 1200"


class TestCalendarPage(ViewTests):
    route = "orchestrate/calendar/"
    action = Action.VIEW
    scoped = False

    def url(self, world: World) -> str:
        return "/orchestrate/calendar/"


# --- the tool catalogue (tools.views) and the plugins page (plugins.views) ---


class TestToolCatalogue(ViewTests, HtmxFragmentTests):
    route = "tools/"
    action = None  # the tools are the installation's: everyone signed in sees the catalogue
    scoped = False
    htmx_headers: ClassVar[dict[str, str]] = {**HTMX, "HX-Target": "tool-catalogue"}
    fragment_marker = 'id="tool-catalogue"'

    def url(self, world: World) -> str:
        return "/tools/?q=drive"

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 200 and "drive.search" in body(response)


class TestToolSetting(ViewTests):
    route = "tools/<str:name>/setting/"
    method = "POST"
    action = Action.MANAGE_SETTINGS
    scoped = False  # the tool is the installation's; the switch is in the user's current workspace

    def url(self, world: World) -> str:
        return "/tools/web.get/setting/"

    def data(self, world: World) -> dict[str, Any]:
        return {"enabled": "0"}

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 302 and not is_tool_enabled(world.workspace, "web.get")

    def refused(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 403 and is_tool_enabled(world.workspace, "web.get")


class TestPluginsPage(ViewTests):
    route = "plugins/"
    # Superusers and owners of any workspace; owners only is the one action only owners have.
    # Superusers: tests/test_plugins_page.py.
    action = Action.DELETE_WORKSPACE
    scoped = False

    def url(self, world: World) -> str:
        return "/plugins/"

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 200 and 'id="plugin-chatops"' in body(response)


SUPERUSERS_ONLY = "superuser"  # no workspace role has it: plugins act on every workspace


class TestPluginToggle(ViewTests):
    route = "plugins/<str:name>/toggle/"
    method = "POST"
    action = SUPERUSERS_ONLY
    scoped = False

    def url(self, world: World) -> str:
        return "/plugins/chatops/toggle/"

    def data(self, world: World) -> dict[str, Any]:
        return {"enabled": "0"}

    def refused(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 403 and not Plugin.objects.filter(enabled=False, name="chatops").exists()


class TestPluginSettings(ViewTests):
    route = "plugins/<str:name>/settings/"
    method = "POST"
    action = SUPERUSERS_ONLY
    scoped = False

    def url(self, world: World) -> str:
        return "/plugins/chatops/settings/"

    def data(self, world: World) -> dict[str, Any]:
        return {"settings": '{"webhook_url": "https://taken.example"}'}

    def refused(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 403 and not Plugin.objects.filter(config__has_key="webhook_url").exists()


# --- the approvals queue (safety.views) ---


class TestApprovalsQueue(ViewTests, HtmxFragmentTests):
    route = "approvals/"
    action = Action.VIEW  # every member sees the queue; only some may decide (below)
    scoped = False
    fragment_marker = 'id="approvals-queue"'

    def url(self, world: World) -> str:
        return "/approvals/"

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 200 and "Running report" in response.content.decode()


class TestDecide(ViewTests):
    route = "approvals/<uuid:approval_id>/decide/"
    method = "POST"
    action = Action.APPROVE

    def url(self, world: World) -> str:
        return f"/approvals/{world.approval.pk}/decide/"

    def data(self, world: World) -> dict[str, Any]:
        return {"decision": "approve", "comment": "fine"}

    def _status(self, world: World) -> str:
        return PendingApproval.objects.get(pk=world.approval.pk).status

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 302 and self._status(world) == ApprovalStatus.APPROVED

    def refused(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 403 and self._status(world) == ApprovalStatus.PENDING


class TestApprovedFile(ViewTests):
    """A file frozen for an approval request, downloaded by someone who may see the request."""

    route = "approvals/<uuid:approval_id>/files/<str:sha256>"
    action = Action.VIEW
    frozen = b"region,revenue\nnorth,1200\n"

    def url(self, world: World) -> str:
        sha256 = freeze(world.workspace.pk, self.frozen)
        bound = [{"name": world.file_name, "sha256": sha256, "bytes": len(self.frozen)}]
        PendingApproval.objects.filter(pk=world.approval.pk).update(bound_files=bound)
        return f"/approvals/{world.approval.pk}/files/{sha256}"

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 200 and body(response) == self.frozen.decode()


# --- workspaces (tenancy.views) ---


class TestWorkspaceList(ViewTests):
    route = "workspaces/"
    action = None
    scoped = False

    def url(self, world: World) -> str:
        return "/workspaces/"


class TestCreateWorkspace(ViewTests):
    route = "workspaces/create/"
    method = "POST"
    action = None  # anyone signed in may start a workspace of their own
    scoped = False

    def url(self, world: World) -> str:
        return "/workspaces/create/"

    def data(self, world: World) -> dict[str, Any]:
        return {"name": "Fresh start"}


class TestSwitchWorkspace(ViewTests):
    route = "workspaces/switch/"
    method = "POST"
    action = Action.VIEW
    scoped = False

    def url(self, world: World) -> str:
        return "/workspaces/switch/"

    def data(self, world: World) -> dict[str, Any]:
        return {"workspace": str(world.workspace.pk), "next": "/orchestrate"}

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 302 and response["Location"] == "/orchestrate"


class TestSwitchLanguage(NonMemberNotFoundTests, RoleMatrixTests):
    """Open to visitors too (the login page has the switcher); signed in, the choice is saved for the person."""

    route = "language/"
    method = "POST"
    action = None
    scoped = False

    def url(self, world: World) -> str:
        return "/language/"

    def data(self, world: World) -> dict[str, Any]:
        return {"language": "he", "next": "/orchestrate"}

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 302 and response["Location"] == "/orchestrate"

    def test_it_lets_a_visitor_choose_with_a_cookie_only(self, client: Client, world: World) -> None:
        response = self.call(client, world)
        assert response.status_code == 302
        assert response.cookies["orchestrate_language"].value == "he"


class TestWorkspacePage(ViewTests):
    route = "workspaces/<uuid:workspace_id>/"
    action = Action.VIEW

    def url(self, world: World) -> str:
        return f"/workspaces/{world.workspace.pk}/"


class TestAddMember(ViewTests):
    route = "workspaces/<uuid:workspace_id>/members/add/"
    method = "POST"
    action = Action.MANAGE_MEMBERS

    def url(self, world: World) -> str:
        return f"/workspaces/{world.workspace.pk}/members/add/"

    def data(self, world: World) -> dict[str, Any]:
        return {"user": world.newcomer.username, "role": Role.VIEWER}

    def allowed(self, response: HttpResponse, world: World) -> bool:
        # An invitation, not a membership: the newcomer joins when they accept (tests/test_invitations.py).
        return WorkspaceInvitation.objects.filter(workspace=world.workspace, user=world.newcomer).exists()

    def refused(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 403 and not WorkspaceInvitation.objects.filter(user=world.newcomer).exists()


def _invitation(world: World) -> WorkspaceInvitation:
    invitation, _ = WorkspaceInvitation.objects.get_or_create(
        workspace=world.workspace, identifier=world.newcomer.username, defaults={"user": world.newcomer}
    )
    return invitation


class TestCancelInvitation(ViewTests):
    route = "workspaces/<uuid:workspace_id>/invitations/<uuid:invitation_id>/cancel/"
    method = "POST"
    action = Action.MANAGE_MEMBERS

    def url(self, world: World) -> str:
        return f"/workspaces/{world.workspace.pk}/invitations/{_invitation(world).pk}/cancel/"

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 302 and not WorkspaceInvitation.objects.exists()

    def refused(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 403 and WorkspaceInvitation.objects.exists()


class TestLeave(ViewTests):
    """GET: the confirmation page (the leaving itself: tests/test_invitations.py)."""

    route = "workspaces/<uuid:workspace_id>/leave/"
    action = Action.VIEW

    def url(self, world: World) -> str:
        return f"/workspaces/{world.workspace.pk}/leave/"

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 200 and b'id="confirm-leave"' in response.content


class TestAnswerInvitation(ViewTests):
    """Only the invitee's own invitation is found; anyone else is told it is no longer open."""

    route = "workspaces/invitations/<uuid:invitation_id>/decline/"
    method = "POST"
    action = None
    scoped = False

    def url(self, world: World) -> str:
        return f"/workspaces/invitations/{_invitation(world).pk}/decline/"

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 302 and WorkspaceInvitation.objects.exists()


class TestAcceptInvitation(TestAnswerInvitation):
    route = "workspaces/invitations/<uuid:invitation_id>/accept/"

    def url(self, world: World) -> str:
        return f"/workspaces/invitations/{_invitation(world).pk}/accept/"

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 302 and not WorkspaceMember.objects.filter(user=world.newcomer).exists()


class TestChangeRole(ViewTests):
    route = "workspaces/<uuid:workspace_id>/members/<int:member_id>/role/"
    method = "POST"
    action = Action.MANAGE_MEMBERS

    def url(self, world: World) -> str:
        return f"/workspaces/{world.workspace.pk}/members/{world.victor_membership.pk}/role/"

    def data(self, world: World) -> dict[str, Any]:
        return {"role": Role.OPERATOR}

    def _role(self, world: World) -> str:
        return WorkspaceMember.objects.get(pk=world.victor_membership.pk).role

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 302 and self._role(world) == Role.OPERATOR

    def refused(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 403 and self._role(world) == Role.VIEWER


class TestConfirmRemoveMember(ViewTests):
    route = "workspaces/<uuid:workspace_id>/members/<int:member_id>/remove/"
    action = Action.MANAGE_MEMBERS

    def url(self, world: World) -> str:
        return f"/workspaces/{world.workspace.pk}/members/{world.victor_membership.pk}/remove/"

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 200 and "victor" in response.content.decode()


class TestRemoveMember(TestConfirmRemoveMember):
    method = "POST"

    def _still_there(self, world: World) -> bool:
        return WorkspaceMember.objects.filter(pk=world.victor_membership.pk).exists()

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 302 and not self._still_there(world)

    def refused(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 403 and self._still_there(world)


class TestAddGrant(ViewTests):
    route = "workspaces/<uuid:workspace_id>/grants/add/"
    method = "POST"
    action = Action.MANAGE_MEMBERS

    def url(self, world: World) -> str:
        return f"/workspaces/{world.workspace.pk}/grants/add/"

    def data(self, world: World) -> dict[str, Any]:
        return {"user": "", "resource_type": "tool", "resource_id": "web", "permissions": ["approve"]}

    def _granted(self, world: World) -> bool:
        return WorkspacePermission.objects.filter(workspace=world.workspace, resource_id="web").exists()

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 302 and self._granted(world)

    def refused(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 403 and not self._granted(world)


class TestRemoveGrant(ViewTests):
    route = "workspaces/<uuid:workspace_id>/grants/<int:grant_id>/remove/"
    method = "POST"
    action = Action.MANAGE_MEMBERS

    def url(self, world: World) -> str:
        return f"/workspaces/{world.workspace.pk}/grants/{world.grant.pk}/remove/"

    def _still_there(self, world: World) -> bool:
        return WorkspacePermission.objects.filter(pk=world.grant.pk).exists()

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 302 and not self._still_there(world)

    def refused(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 403 and self._still_there(world)


# --- webhooks (webhooks.views.console) ---


def _orders(world: World, user: User | None = None) -> Webhook:
    """An HTTP webhook of A, made by alice unless another creator is given."""
    return create_webhook(
        user or world.alice, world.workspace, name="Orders", trigger_type="http", action_config={"request": "Hi"}
    ).webhook


class WebhookTests(ViewTests):
    """A page or action on one webhook of A. By default the webhook is alice's (the owner's), so the
    matrix checks who may act on someone else's; operators managing their own is the test below."""

    suffix: ClassVar[str] = ""
    _hook: Webhook | None = None

    def hook(self, world: World) -> Webhook:
        if self._hook is None:
            self._hook = _orders(world)
        return self._hook

    def current(self) -> Webhook | None:
        assert self._hook is not None
        return Webhook.objects.filter(pk=self._hook.pk).first()

    def url(self, world: World) -> str:
        return f"/webhooks/{self.hook(world).pk}/{self.suffix}"


class ManageWebhookTests(WebhookTests):
    action = Action.MANAGE_SETTINGS  # on a webhook they did not make: owners and admins only

    def test_it_lets_an_operator_manage_their_own(self, client: Client, world: World) -> None:
        operator = UserFactory.create(username="operator-of-a")
        MemberFactory.create(workspace=world.workspace, user=operator, role=Role.OPERATOR)
        self._hook = _orders(world, operator)
        client.force_login(operator)
        response = self.call(client, world)
        assert self.allowed(response, world), response.status_code

    def test_it_refuses_a_viewer_who_made_the_webhook_as_an_operator(self, client: Client, world: World) -> None:
        """Demoted to viewer: their own webhook is no longer theirs to change."""
        world.victor_membership.role = Role.OPERATOR
        world.victor_membership.save(update_fields=["role"])
        self._hook = _orders(world, world.victor)
        world.victor_membership.role = Role.VIEWER
        world.victor_membership.save(update_fields=["role"])
        client.force_login(world.victor)
        response = self.call(client, world)
        assert self.refused(response, world), response.status_code


class TestWebhookList(ViewTests):
    route = "webhooks/"
    action = Action.VIEW
    scoped = False

    def url(self, world: World) -> str:
        _orders(world)
        return "/webhooks/"

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 200 and "Orders" in body(response)


class TestCreateWebhook(ViewTests):
    route = "webhooks/"
    method = "POST"
    action = Action.RUN
    scoped = False

    def url(self, world: World) -> str:
        return "/webhooks/"

    def data(self, world: World) -> dict[str, Any]:
        return {"name": "Invoices", "trigger_type": "http", "request": "Summarise invoice", "enabled": "on"}

    def _made(self, world: World) -> bool:
        return Webhook.objects.filter(workspace=world.workspace, name="Invoices").exists()

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 201 and self._made(world)

    def refused(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 403 and not self._made(world)


class TestWebhookPage(WebhookTests):
    route = "webhooks/<uuid:webhook_id>/"
    action = Action.VIEW

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 200 and "Orders" in body(response)


class TestEditWebhook(ManageWebhookTests):
    route = "webhooks/<uuid:webhook_id>/"
    method = "POST"

    def data(self, world: World) -> dict[str, Any]:
        return {"name": "Orders v2", "trigger_type": "http", "request": "Hi", "enabled": "on"}

    def _name(self) -> str | None:
        hook = self.current()
        return hook.name if hook else None

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 302 and self._name() == "Orders v2"

    def refused(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 403 and self._name() == "Orders"


class TestToggleWebhook(ManageWebhookTests):
    route = "webhooks/<uuid:webhook_id>/toggle/"
    method = "POST"
    suffix = "toggle/"

    def _enabled(self) -> bool | None:
        hook = self.current()
        return hook.enabled if hook else None

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 302 and self._enabled() is False

    def refused(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 403 and self._enabled() is True


class TestRotateWebhookSecret(ManageWebhookTests):
    route = "webhooks/<uuid:webhook_id>/rotate/"
    method = "POST"
    suffix = "rotate/"

    def _rotated(self) -> bool:
        hook = self.current()
        return hook is not None and hook.previous_secret_expires_at is not None

    def allowed(self, response: HttpResponse, world: World) -> bool:
        # The new secret is shown in this answer, once.
        return response.status_code == 200 and self._rotated() and "whsec_" in body(response)

    def refused(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 403 and not self._rotated() and "whsec_" not in body(response)


class TestSendTestEvent(ManageWebhookTests):
    route = "webhooks/<uuid:webhook_id>/test/"
    method = "POST"
    suffix = "test/"

    def _fired(self) -> bool:
        assert self._hook is not None
        return WebhookExecution.objects.filter(webhook=self._hook.pk, source=FiringSource.TEST).exists()

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 302 and self._fired()

    def refused(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 403 and not self._fired()


class TestDeleteWebhook(ManageWebhookTests):
    route = "webhooks/<uuid:webhook_id>/delete/"
    method = "POST"
    suffix = "delete/"

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 302 and self.current() is None

    def refused(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 403 and self.current() is not None


# --- MCP servers (tools_mcp.views): everyone in A sees them, owners and admins manage them ---


def _mcp_server(world: World) -> McpServer:
    """A's server with one discovered tool; nothing listens at its (loopback) URL."""
    server = McpServer.objects.create(
        workspace=world.workspace, name="local", transport=Transport.HTTP, url="http://127.0.0.1:9/mcp"
    )
    ToolCatalog.objects.create(
        workspace=world.workspace,
        name="mcp.local.add",
        tool_type=ToolType.MCP,
        metadata={"server_id": str(server.pk), "server": "local", "tool": "add", "available": True},
        last_discovered_at=timezone.now(),
    )
    return server


class McpServerTests(ViewTests):
    suffix: ClassVar[str] = ""
    action = Action.MANAGE_SETTINGS
    _server: McpServer | None = None

    def server(self, world: World) -> McpServer:
        if self._server is None:
            self._server = _mcp_server(world)
        return self._server

    def current(self) -> McpServer | None:
        assert self._server is not None
        return McpServer.objects.filter(pk=self._server.pk).first()

    def url(self, world: World) -> str:
        return f"/mcp-servers/{self.server(world).pk}/{self.suffix}"


class TestMcpServerList(ViewTests):
    route = "mcp-servers/"
    action = Action.VIEW
    scoped = False

    def url(self, world: World) -> str:
        _mcp_server(world)
        return "/mcp-servers/"

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 200 and "local" in body(response)


class TestRegisterMcpServer(ViewTests):
    route = "mcp-servers/"
    method = "POST"
    action = Action.MANAGE_SETTINGS
    scoped = False

    @pytest.fixture(autouse=True)
    def _loopback_allowed(self, settings: Any) -> None:
        settings.WEB_ALLOWED_HOSTS = ["127.0.0.1"]  # the URL passes the guard; nothing answers there

    def url(self, world: World) -> str:
        return "/mcp-servers/"

    def data(self, world: World) -> dict[str, Any]:
        return {"name": "remote", "transport": "http", "url": "http://127.0.0.1:9/mcp", "headers": "X-Key: s3cret"}

    def _made(self, world: World) -> bool:
        return McpServer.objects.filter(workspace=world.workspace, name="remote").exists()

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 302 and self._made(world)

    def refused(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 403 and not self._made(world)


class TestMcpServerPage(McpServerTests):
    route = "mcp-servers/<uuid:server_id>/"
    action = Action.VIEW

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 200 and "mcp.local.add" in body(response)


class TestMarkMcpToolsSafe(McpServerTests):
    route = "mcp-servers/<uuid:server_id>/"
    method = "POST"

    def data(self, world: World) -> dict[str, Any]:
        return {"mcp.local.add": "on"}

    def _marked(self) -> bool:
        current = self.current()
        return current is not None and marked_safe(current.workspace_id, "mcp.local.add")

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 302 and self._marked()

    def refused(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 403 and not self._marked()


class TestRefreshMcpServer(McpServerTests):
    route = "mcp-servers/<uuid:server_id>/refresh/"
    method = "POST"
    suffix = "refresh/"

    def _tried(self) -> bool:
        current = self.current()
        return current is not None and current.last_discovered_at is not None

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 302 and self._tried()

    def refused(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 403 and not self._tried()


class TestToggleMcpServer(McpServerTests):
    route = "mcp-servers/<uuid:server_id>/toggle/"
    method = "POST"
    suffix = "toggle/"

    def allowed(self, response: HttpResponse, world: World) -> bool:
        current = self.current()
        return response.status_code == 302 and current is not None and not current.enabled

    def refused(self, response: HttpResponse, world: World) -> bool:
        current = self.current()
        return response.status_code == 403 and current is not None and current.enabled


class TestDeleteMcpServer(McpServerTests):
    route = "mcp-servers/<uuid:server_id>/delete/"
    method = "POST"
    suffix = "delete/"

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 302 and self.current() is None

    def refused(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 403 and self.current() is not None


# --- personal API tokens (tenancy.views.tokens): a person's own, in no workspace ---


def _signed_in(client: Client) -> User | None:
    user_id = client.session.get(SESSION_KEY)
    return User.objects.get(pk=user_id) if user_id else None


class TestTokenList(ViewTests):
    route = "tokens/"
    action = None  # everyone signed in has their own tokens
    scoped = False

    def url(self, world: World) -> str:
        create_token(world.alice, "alice-export")
        return "/tokens/"

    def allowed(self, response: HttpResponse, world: World) -> bool:
        # Another member of A is not shown alice's tokens.
        return response.status_code == 200 and "alice-export" not in body(response)


class TestCreateToken(ViewTests):
    route = "tokens/"
    method = "POST"
    action = None
    scoped = False

    def url(self, world: World) -> str:
        return "/tokens/"

    def data(self, world: World) -> dict[str, Any]:
        return {"name": "ci-export", "days": "30"}

    def call(self, client: Client, world: World, headers: dict[str, str] | None = None) -> HttpResponse:
        self.caller = _signed_in(client)
        return super().call(client, world, headers)

    def allowed(self, response: HttpResponse, world: World) -> bool:
        mine = ApiToken.objects.filter(user=self.caller, name="ci-export")
        return response.status_code == 201 and mine.count() == ApiToken.objects.count() == 1


class TestRevokeToken(ViewTests):
    """The URL names the caller's own token (alice's for a visitor); nobody revokes another's."""

    route = "tokens/<uuid:token_id>/revoke/"
    method = "POST"
    action = None
    scoped = False

    def call(self, client: Client, world: World, headers: dict[str, str] | None = None) -> HttpResponse:
        self.token = create_token(_signed_in(client) or world.alice, "nightly").token
        return super().call(client, world, headers)

    def url(self, world: World) -> str:
        return f"/tokens/{self.token.pk}/revoke/"

    def allowed(self, response: HttpResponse, world: World) -> bool:
        self.token.refresh_from_db()
        return response.status_code == 302 and self.token.revoked_at is not None

    def test_it_never_revokes_someone_elses_token(self, client: Client, world: World, charlie: User) -> None:
        alices = create_token(world.alice, "alice's").token
        for someone in (world.victor, charlie):
            client.force_login(someone)
            response = client.post(f"/tokens/{alices.pk}/revoke/")
            alices.refresh_from_db()
            assert response.status_code == 302, someone
            assert alices.revoked_at is None, someone
            assert "No such token of yours" in client.get("/tokens/").content.decode()


# --- websocket routes ---


class TestExecutionsStream(SocketTests):
    route = "ws/executions/"
    scoped = False

    def path(self, world: World) -> str:
        return "/ws/executions/"


class TestExecutionStream(SocketTests):
    route = "ws/executions/<uuid:execution_id>/"

    def path(self, world: World) -> str:
        return f"/ws/executions/{world.running.pk}/"


class TestNotificationsStream(SocketTests):
    route = "ws/notifications/"
    scoped = False

    def path(self, world: World) -> str:
        return "/ws/notifications/"


# --- learning and plan versions (learning.views, versioning.views) ---

STAFF_ONLY = "staff"  # not an action of any workspace role: every member is refused


def _pattern(world: World) -> LearnedPattern:
    return LearnedPattern.objects.create(
        workspace=world.workspace,
        pattern_type=PatternType.REQUEST_PLAN,
        key="k1",
        signature="en|analyse|file",
        description="en|analyse|file -> Analysis",
        plan_template=[{"number": 1, "tool": "test.noop", "input": {"value": 1}}],
    )


def _finished_plan(world: World) -> Execution:
    """The failed run of A with a first plan version to edit, diff and re-run."""
    plan = {"planner": "rules", "steps": [{"number": 1, "tool": "test.noop", "input": {"value": 1}, "depends_on": []}]}
    PlanVersion.objects.get_or_create(plan=world.failed, version=1, defaults={"plan_data": plan})
    return world.failed


class TestLearningPage(ViewTests):
    route = "learning/"
    action = Action.VIEW
    scoped = False

    def url(self, world: World) -> str:
        _pattern(world)
        return "/learning/"

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 200 and "en|analyse|file -&gt; Analysis" in body(response)


class TestTogglePattern(ViewTests):
    route = "learning/patterns/<uuid:pattern_id>/toggle"
    method = "POST"
    action = Action.MANAGE_SETTINGS
    _made: LearnedPattern | None = None

    def url(self, world: World) -> str:
        self._made = _pattern(world)
        return f"/learning/patterns/{self._made.pk}/toggle"

    def _enabled(self) -> bool:
        assert self._made is not None
        return LearnedPattern.objects.get(pk=self._made.pk).enabled

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 302 and not self._enabled()

    def refused(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 403 and self._enabled()


class TestStartABTest(ViewTests):
    route = "learning/tests/"
    method = "POST"
    action = Action.MANAGE_SETTINGS
    scoped = False

    def data(self, world: World) -> dict[str, Any]:
        execution = _finished_plan(world)
        second = PlanVersion.objects.create(
            plan=execution,
            version=2,
            plan_data={"steps": [{"number": 1, "tool": "test.noop", "input": {"value": 2}, "depends_on": []}]},
        )
        first = PlanVersion.objects.get(plan=execution, version=1)
        return {
            "name": "noop values",
            "variant_a": f"version:{first.pk}",
            "variant_b": f"version:{second.pk}",
            "traffic_split": "0.5",
            "min_sample": "5",
            "auto_promote": "on",
        }

    def url(self, world: World) -> str:
        return "/learning/tests/"

    def call(self, client: Client, world: World, headers: dict[str, str] | None = None) -> HttpResponse:
        return client.post(self.url(world), self.data(world), headers=headers)  # type: ignore[return-value]

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 302 and ABTest.objects.filter(name="noop values").exists()

    def refused(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 403 and not ABTest.objects.exists()


class TestPromoteABTest(ViewTests):
    route = "learning/tests/<uuid:test_id>/promote"
    method = "POST"
    action = Action.MANAGE_SETTINGS
    _test: ABTest | None = None

    def url(self, world: World) -> str:
        template = [{"number": 1, "tool": "test.noop", "input": {"value": 1}}]
        other = [{"number": 1, "tool": "test.noop", "input": {"value": 2}}]
        blank = {"runs": 20, "successes": 2, "success_rate": 0.1, "mean_rating": None, "tokens": 0, "duration_ms": 1}
        self._test = ABTest.objects.create(
            workspace=world.workspace,
            name="decided",
            subject="en|-|-",
            variant_a={"label": "one", "template": template},
            variant_b={"label": "two", "template": other},
            auto_promote=False,
            status=ABTestStatus.RUNNING,
            results={
                "A": blank,
                "B": {**blank, "successes": 18, "success_rate": 0.9},
                "p_value": 0.0001,
                "alpha": 0.05,
                "decided": True,
                "leader": "B",
            },
        )
        return f"/learning/tests/{self._test.pk}/promote"

    def _status(self) -> str:
        assert self._test is not None
        return ABTest.objects.get(pk=self._test.pk).status

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 302 and self._status() == ABTestStatus.COMPLETED

    def refused(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 403 and self._status() == ABTestStatus.RUNNING


class TestRateRun(ViewTests):
    route = "learning/runs/<uuid:execution_id>/rating"
    method = "POST"
    action = Action.VIEW

    def url(self, world: World) -> str:
        return f"/learning/runs/{world.failed.pk}/rating"

    def data(self, world: World) -> dict[str, Any]:
        return {"rating": "4", "comment": "close"}

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 302 and RunRating.objects.filter(execution=world.failed, rating=4).exists()


class TestPromptList(ViewTests):
    route = "learning/prompts/"
    action = None  # prompts are shared by every workspace: anyone signed in reads them
    scoped = False

    def url(self, world: World) -> str:
        return "/learning/prompts/"


class TestAgentPrompts(ViewTests):
    route = "learning/prompts/<slug:agent_id>/"
    action = None
    scoped = False

    def url(self, world: World) -> str:
        return "/learning/prompts/planner/"

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 200 and "v1" in body(response)


class TestNewPromptVersion(ViewTests):
    route = "learning/prompts/<slug:agent_id>/"
    method = "POST"
    action = STAFF_ONLY
    scoped = False

    def url(self, world: World) -> str:
        return "/learning/prompts/planner/"

    def data(self, world: World) -> dict[str, Any]:
        return {"prompt": "Plan carefully.", "note": "shorter"}

    def refused(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 403 and not PromptVersion.objects.filter(prompt="Plan carefully.").exists()


class TestComparePrompts(ViewTests):
    route = "learning/prompts/<slug:agent_id>/compare"
    action = None
    scoped = False

    def url(self, world: World) -> str:
        return "/learning/prompts/planner/compare?a=1&b=1"


class TestMakePromptCurrent(ViewTests):
    route = "learning/prompts/versions/<int:version_id>/current"
    method = "POST"
    action = STAFF_ONLY
    scoped = False

    def url(self, world: World) -> str:
        version = PromptVersion.objects.get(agent_id="planner", version=1)
        return f"/learning/prompts/versions/{version.pk}/current"

    def refused(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 403 and not PromptVersion.objects.filter(is_current=True).exists()


class TestPlanVersions(ViewTests):
    route = "plans/<uuid:execution_id>/"
    action = Action.VIEW

    def url(self, world: World) -> str:
        return f"/plans/{_finished_plan(world).pk}/"

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 200 and 'id="plan-v1"' in body(response)


class TestEditPlan(ViewTests):
    route = "plans/<uuid:execution_id>/"
    method = "POST"
    action = Action.RUN

    def url(self, world: World) -> str:
        return f"/plans/{_finished_plan(world).pk}/"

    def data(self, world: World) -> dict[str, Any]:
        return {
            "steps-TOTAL_FORMS": "1",
            "steps-INITIAL_FORMS": "1",
            "steps-0-tool": "test.noop",
            "steps-0-input": '{"value": 2}',
            "steps-0-depends_on": "",
            "note": "value two",
        }

    def _edited(self, world: World) -> bool:
        return PlanVersion.objects.filter(plan=world.failed, version=2).exists()

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 302 and self._edited(world)

    def refused(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 403 and not self._edited(world)


class TestPlanDiff(ViewTests):
    route = "plans/<uuid:execution_id>/diff"
    action = Action.VIEW

    def url(self, world: World) -> str:
        execution = _finished_plan(world)
        PlanVersion.objects.get_or_create(
            plan=execution,
            version=2,
            defaults={"plan_data": {"steps": [{"number": 1, "tool": "test.noop", "input": {"value": 2}}]}},
        )
        return f"/plans/{execution.pk}/diff?a=1&b=2"

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 200 and "input value: 1 → 2" in body(response)


class TestRerunPlanVersion(ViewTests):
    route = "plans/<uuid:execution_id>/versions/<int:version>/rerun"
    method = "POST"
    action = Action.RUN

    def url(self, world: World) -> str:
        return f"/plans/{_finished_plan(world).pk}/versions/1/rerun"

    def _reruns(self, world: World) -> int:
        return Execution.objects.filter(plan__rerun_of__execution=str(world.failed.pk)).count()

    def allowed(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 302 and self._reruns(world) == 1

    def refused(self, response: HttpResponse, world: World) -> bool:
        return response.status_code == 403 and self._reruns(world) == 0


# --- coverage ---


def test_it_has_view_tests_for_every_url_pattern() -> None:
    routes = url_routes(get_resolver().url_patterns)
    assert "orchestrate/executions/<uuid:execution_id>/" in routes
    uncovered = [
        route
        for route in routes
        if route not in VIEW_ROUTES and route not in NOT_VIEWS and not route.startswith(("admin/", "api/"))
    ]
    assert not uncovered, f"URL patterns without view tests (subclass tests.support.views.ViewTests): {uncovered}"


def test_it_has_socket_tests_for_every_websocket_route() -> None:
    routes = url_routes(websocket_urlpatterns)
    assert routes
    uncovered = [route for route in routes if route not in SOCKET_ROUTES]
    assert not uncovered, f"websocket routes without tests (subclass tests.support.views.SocketTests): {uncovered}"


def test_it_names_no_route_that_does_not_exist() -> None:
    """A class for a route that was renamed would test nothing the URL conf serves."""
    routes = set(url_routes(get_resolver().url_patterns)) | set(url_routes(websocket_urlpatterns))
    assert not set(VIEW_ROUTES) - routes
    assert not set(SOCKET_ROUTES) - routes
