"""Workspace admin and access in a browser: adding a member opens the workspace to them, and only to them."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from orchestration.engine.runs import submit
from tenancy.models import WorkspaceMember
from tenancy.roles import Role
from tests.browser.helpers import assert_legible, off_the_loop, screenshot_for_docs, step_plan
from tests.factories.tenancy import UserFactory
from tests.support.engine import wait_for

pytestmark = pytest.mark.browser

NAME = "Acme Analytics"
SECRET_REQUEST = "Look through the Acme board minutes"

# Resolves with what became of a websocket: opened at all, how it closed, what it heard.
OPEN_SOCKET = """([url, waitMs]) => new Promise(resolve => {
  const socket = new WebSocket(url);
  const seen = {opened: false, code: null, messages: []};
  socket.onopen = () => { seen.opened = true; };
  socket.onmessage = event => { seen.messages.push(String(event.data)); };
  socket.onclose = event => { seen.code = event.code; resolve(seen); };
  setTimeout(() => resolve(seen), waitMs);
})"""


@pytest.fixture
def acme(workspace_a):
    workspace_a.name = NAME
    workspace_a.save(update_fields=["name"])
    return workspace_a


@pytest.fixture
def acme_run(alice, acme):
    execution = off_the_loop(
        submit, user=alice, workspace=acme, request_text=SECRET_REQUEST, plan=step_plan({"tool": "test.noop"})
    )
    return wait_for(execution)


def test_it_invites_a_member_who_accepts_and_then_sees_the_workspace_and_its_runs(pages, alice, acme, acme_run):
    UserFactory.create(username="bob")
    bob_page = pages.open_as("bob", "/workspaces/")
    expect(bob_page.locator("main")).not_to_contain_text(NAME)

    admin = pages.open_as("alice", "/workspaces/")
    expect(admin.locator("#create-workspace-form")).to_be_visible()
    screenshot_for_docs(admin, "workspaces")
    admin.goto(f"/workspaces/{acme.pk}/")
    expect(admin.locator("#members")).to_contain_text("alice")
    form = admin.locator("#add-member-form")
    form.locator("[name=user]").fill("bob")
    form.locator("select[name=role]").select_option(Role.OPERATOR)
    form.get_by_role("button", name="Invite").click()
    expect(admin.locator("#invitations")).to_contain_text("bob")
    expect(admin.locator("#members")).not_to_contain_text("bob")
    assert_legible(admin.locator("#members button"))
    screenshot_for_docs(admin, "workspace-admin")

    bob_page.goto("/workspaces/")
    expect(bob_page.locator("#invitations")).to_contain_text(NAME)
    bob_page.get_by_role("button", name=f"Accept the invitation to {NAME}").click()
    expect(bob_page.locator("main")).to_contain_text(f"You joined {NAME} as operator.")
    assert WorkspaceMember.objects.get(workspace=acme, user__username="bob").role == Role.OPERATOR
    bob_page.goto("/orchestrate")
    expect(bob_page.locator(f"#execution-{acme_run.pk}")).to_contain_text(SECRET_REQUEST)


def test_it_refuses_a_non_member_the_execution_page_and_its_live_stream(pages, server, alice, charlie, acme_run):
    path = f"/orchestrate/executions/{acme_run.pk}/"
    stream = server.ws_url(f"/ws/executions/{acme_run.pk}/")

    # The same URLs work for a member: a 404 below is the refusal, not a wrong address.
    owner = pages.open_as("alice")
    assert owner.goto(path).status == 200
    allowed = owner.evaluate(OPEN_SOCKET, [stream, 1000])
    assert allowed["opened"], allowed
    assert allowed["code"] is None, f"the member's socket closed: {allowed}"

    outsider = pages.open_as("charlie")
    response = outsider.goto(path)
    assert response.status == 404
    assert SECRET_REQUEST not in outsider.content()
    refused = outsider.evaluate(OPEN_SOCKET, [stream, 5000])
    assert refused["messages"] == []
    assert refused["code"] == 4403 or (not refused["opened"] and refused["code"] is not None), refused

    outsider.goto("/orchestrate")
    expect(outsider.locator(f"#execution-{acme_run.pk}")).to_have_count(0)
    expect(outsider.locator("main")).not_to_contain_text(SECRET_REQUEST)
