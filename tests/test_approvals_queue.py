"""The approvals queue: who sees which requests, deciding from the page, and the live badge and rows."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import reverse

from orchestration.events import workspace_group
from orchestration.models import ExecutionStatus, StepStatus
from orchestration.publishing import publish_approval
from safety.approvals import decide
from safety.models import ApprovalStatus, PendingApproval
from tenancy.models import WorkspaceMember
from tests.factories.orchestration import ExecutionFactory
from tests.factories.safety import PendingApprovalFactory
from tests.support.engine import wait_for
from tests.support.runs import critical_run
from tests.support.sockets import socket_headers

HTMX = {"HX-Request": "true"}
READ_ONLY = "You can see this request but not decide on it."


def _approval(workspace, **fields) -> PendingApproval:
    """A pending request on a run made by hand: no step waits for it, so deciding only records the decision."""
    execution = ExecutionFactory.create(workspace=workspace, request=fields.pop("request", "Send the quarterly report"))
    return PendingApprovalFactory.create(execution=execution, **fields)


def _decide(client, approval, decision="approve", comment="", **extra):
    url = reverse("safety:decide", args=[approval.pk])
    return client.post(url, {"decision": decision, "comment": comment}, **extra)


@pytest.mark.django_db
def test_it_shows_only_pending_approvals_of_the_users_workspaces_oldest_first(
    client, alice, charlie, workspace_a, workspace_b
):
    older = _approval(workspace_a, reason="Older request")
    newer = _approval(workspace_a, reason="Newer request")
    _approval(workspace_b, reason="B's secret request")
    _approval(workspace_a, reason="Already decided", status=ApprovalStatus.APPROVED)
    client.force_login(alice)
    page = client.get(reverse("safety:queue")).content.decode()
    assert page.index(f'id="approval-{older.pk}"') < page.index(f'id="approval-{newer.pk}"')
    assert "B&#x27;s secret request" not in page
    assert page.count('id="approval-') == 2
    assert f'href="/orchestrate/executions/{older.execution_id}/"' in page
    assert 'name="decision" value="approve"' in page


@pytest.mark.django_db
def test_it_shows_impact_and_action_data_and_escapes_what_users_typed(client, alice, workspace_a):
    _approval(
        workspace_a,
        request="<script>alert(1)</script>",
        estimated_impact={"recipients": 3, "to": ["<b>x</b>@example.com"]},
        action_data={"subject": "Hi <img src=x>"},
    )
    client.force_login(alice)
    page = client.get(reverse("safety:queue")).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<dt>recipients:</dt> <dd>3</dd>" in page
    assert "<b>x</b>" not in page
    assert "<img src=x>" not in page
    assert "<summary>Exactly what runs</summary>" in page


@pytest.mark.django_db
def test_it_shows_the_queue_read_only_to_operators_and_viewers(victor, client, bob, workspace_a):
    approval = _approval(workspace_a)
    for person in (bob, victor):
        client.force_login(person)
        page = client.get(reverse("safety:queue")).content.decode()
        assert f'id="approval-{approval.pk}"' in page
        assert READ_ONLY in page
        assert 'name="decision"' not in page


@pytest.mark.django_db
def test_it_shows_an_empty_queue_clearly(client, alice):
    client.force_login(alice)
    page = client.get(reverse("safety:queue")).content.decode()
    assert "Nothing waits for a decision." in page
    assert 'id="approvals-body"' in page
    assert "No decisions yet." in page


@pytest.mark.usefixtures("engine")
def test_it_approves_from_the_queue_with_htmx_and_the_run_goes_on(client, alice, workspace_a):
    execution, approval = critical_run(alice, workspace_a)
    client.force_login(alice)
    response = _decide(client, approval, "approve", "looks fine", headers=HTMX)
    assert response.status_code == 200
    page = response.content.decode()
    assert f'id="approval-{approval.pk}"' not in page
    assert f'id="decided-{approval.pk}"' in page
    assert "Approved test.critical" in page
    assert 'id="approvals-badge" class="badge" hx-swap-oob="true" hidden' in page
    assert wait_for(execution).status == ExecutionStatus.SUCCEEDED
    approval.refresh_from_db()
    assert (approval.status, approval.resolved_by, approval.comment) == (ApprovalStatus.APPROVED, alice, "looks fine")


@pytest.mark.usefixtures("engine")
def test_it_rejects_with_a_plain_post_and_redirects_with_a_message(client, alice, workspace_a):
    execution, approval = critical_run(alice, workspace_a)
    client.force_login(alice)
    response = _decide(client, approval, "reject", "not today", follow=True)
    assert response.redirect_chain == [(reverse("safety:queue"), 302)]
    page = response.content.decode()
    assert "Rejected test.critical" in page
    assert f'id="approval-{approval.pk}"' not in page
    execution = wait_for(execution)
    assert execution.status == ExecutionStatus.FAILED
    assert execution.steps.get(step_number=1).status == StepStatus.FAILED


@pytest.mark.django_db
def test_it_tells_the_second_decider_it_was_already_decided(client, alice, workspace_a):
    approval = _approval(workspace_a)
    decide(approval, alice, approve=True)
    client.force_login(alice)
    response = _decide(client, approval, "reject", headers=HTMX)
    assert response.status_code == 409
    assert "This request was already approved by alice." in response.content.decode()
    response = _decide(client, approval, "reject", follow=True)
    assert "This request was already approved by alice." in response.content.decode()
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.APPROVED


@pytest.mark.django_db
def test_it_gives_a_404_for_an_approval_of_another_workspace(client, alice, charlie, workspace_a):
    approval = _approval(workspace_a)
    client.force_login(charlie)
    assert _decide(client, approval).status_code == 404
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING


@pytest.mark.django_db
def test_it_refuses_an_operator_with_a_403_and_a_message(client, bob, workspace_a):
    approval = _approval(workspace_a)
    client.force_login(bob)
    response = _decide(client, approval)
    assert response.status_code == 403
    assert "You may not approve or reject actions in this workspace." in response.content.decode()
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING


@pytest.mark.django_db
@pytest.mark.parametrize("decision", ["maybe", ""])
def test_it_refuses_a_bad_decision_value(client, alice, workspace_a, decision):
    approval = _approval(workspace_a)
    client.force_login(alice)
    response = _decide(client, approval, decision)
    assert response.status_code == 400
    assert "Choose Approve or Reject." in response.content.decode()
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING


@pytest.mark.django_db
def test_it_lists_recent_decisions_with_who_when_and_comment(client, alice, bob, workspace_a):
    approval = _approval(workspace_a)
    decide(approval, alice, approve=False, comment="wrong <recipient>")
    client.force_login(bob)
    page = client.get(reverse("safety:queue")).content.decode()
    assert f'id="decided-{approval.pk}"' in page
    assert "Rejected" in page
    assert "wrong &lt;recipient&gt;" in page
    assert ">alice<" in page


@pytest.mark.django_db
def test_it_counts_pending_approvals_of_the_users_workspaces_in_the_badge(client, alice, charlie, workspace_a):
    _approval(workspace_a)
    _approval(workspace_a)
    client.force_login(alice)
    page = client.get("/workspaces/").content.decode()
    assert 'aria-label="2 pending approvals">2</span>' in page
    client.force_login(charlie)
    page = client.get("/workspaces/").content.decode()
    assert 'aria-label="0 pending approvals">0</span>' in page
    assert 'hx-swap-oob="true" hidden' in page


# --- live notifications -------------------------------------------------------------------------


@pytest.fixture
def application(settings):
    """The project's ASGI application. Importing it in the embedded mode would start the
    engine's sweeper thread in this process, to sweep behind every later test's back."""
    settings.ORCHESTRATE_RUN_MODE = "celery"
    from config.asgi import application

    return application


async def _frames(communicator: WebsocketCommunicator, count: int) -> list[str]:
    return [str(await communicator.receive_from(timeout=5)) for _ in range(count)]


def _badge(count: int) -> str:
    noun = "approval" if count == 1 else "approvals"
    return f'aria-label="{count} pending {noun}">{count}</span>'


@pytest.mark.django_db(transaction=True)
def test_it_sends_the_badge_on_connect(client, alice, workspace_a, application):
    _approval(workspace_a)
    client.force_login(alice)

    async def run():
        communicator = WebsocketCommunicator(application, "/ws/notifications/", headers=socket_headers(client=client))
        connected, _ = await communicator.connect()
        assert connected
        [badge] = await _frames(communicator, 1)
        assert 'id="approvals-badge"' in badge
        assert _badge(1) in badge
        assert await communicator.receive_nothing(timeout=0.2)
        await communicator.disconnect()

    async_to_sync(run)()


@pytest.mark.django_db(transaction=True)
def test_it_brings_a_new_approval_live_to_members_only(client, alice, charlie, workspace_a, application):
    client.force_login(alice)
    alice_headers = socket_headers(client=client)
    other_client = Client()  # a second login on the same client would end alice's session
    other_client.force_login(charlie)
    charlie_headers = socket_headers(client=other_client)

    async def run():
        queue = WebsocketCommunicator(application, "/ws/notifications/?page=approvals", headers=alice_headers)
        other_page = WebsocketCommunicator(application, "/ws/notifications/", headers=alice_headers)
        outsider = WebsocketCommunicator(application, "/ws/notifications/?page=approvals", headers=charlie_headers)
        for communicator in (queue, other_page, outsider):
            assert (await communicator.connect())[0]
        badge, body, recent = await _frames(queue, 3)
        assert _badge(0) in badge
        assert "Nothing waits for a decision." in body
        assert 'id="approvals-recent"' in recent
        await _frames(other_page, 1)
        await _frames(outsider, 3)

        approval = await database_sync_to_async(_approval)(workspace_a, request="Live <one>")
        await database_sync_to_async(publish_approval)(approval.pk)

        badge, body, recent = await _frames(queue, 3)
        assert _badge(1) in badge
        assert body.startswith('<tbody id="approvals-body" hx-swap-oob="true">')
        assert f'<tr id="approval-{approval.pk}">' in body
        assert "Live &lt;one&gt;" in body
        assert 'name="decision" value="approve"' in body  # rendered with alice's right to decide
        assert recent.startswith('<section id="approvals-recent"')
        [badge] = await _frames(other_page, 1)
        assert _badge(1) in badge
        assert await other_page.receive_nothing(timeout=0.2)
        assert await outsider.receive_nothing(timeout=0.5)

        await database_sync_to_async(decide)(approval, alice, approve=True)
        badge, body, _ = await _frames(queue, 3)
        assert _badge(0) in badge
        assert f'id="approval-{approval.pk}"' not in body
        assert await outsider.receive_nothing(timeout=0.2)
        for communicator in (queue, other_page, outsider):
            await communicator.disconnect()

    async_to_sync(run)()


@pytest.mark.django_db(transaction=True)
def test_it_renders_live_rows_read_only_for_those_who_may_not_decide(client, bob, workspace_a, application):
    client.force_login(bob)

    async def run():
        queue = WebsocketCommunicator(
            application, "/ws/notifications/?page=approvals", headers=socket_headers(client=client)
        )
        assert (await queue.connect())[0]
        await _frames(queue, 3)
        approval = await database_sync_to_async(_approval)(workspace_a)
        await database_sync_to_async(publish_approval)(approval.pk)
        _, body, _ = await _frames(queue, 3)
        assert f'<tr id="approval-{approval.pk}">' in body
        assert READ_ONLY in body
        assert 'name="decision"' not in body
        await queue.disconnect()

    async_to_sync(run)()


@pytest.mark.django_db(transaction=True)
def test_it_stops_telling_a_removed_member_at_once(client, bob, workspace_a, application):
    client.force_login(bob)

    async def run():
        communicator = WebsocketCommunicator(application, "/ws/notifications/", headers=socket_headers(client=client))
        assert (await communicator.connect())[0]
        await _frames(communicator, 1)
        await database_sync_to_async(WorkspaceMember.objects.filter(user=bob).delete)()
        approval = await database_sync_to_async(_approval)(workspace_a)
        await database_sync_to_async(publish_approval)(approval.pk)
        assert await communicator.receive_nothing(timeout=0.5)
        await communicator.disconnect()

    async_to_sync(run)()


@pytest.mark.django_db(transaction=True)
def test_it_refuses_anonymous_connections(application):
    async def run():
        communicator = WebsocketCommunicator(
            application, "/ws/notifications/", headers=[(b"origin", b"http://127.0.0.1")]
        )
        assert (await communicator.connect())[0]
        # The one refusal idiom of every consumer (config/consumers.py): accepted, then closed with 4403.
        assert await communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": 4403}
        await communicator.disconnect()  # ended here, not cancelled by the loop's shutdown

    async_to_sync(run)()


@pytest.mark.django_db(transaction=True)
def test_it_ignores_run_events(client, alice, workspace_a, application):
    client.force_login(alice)

    async def run():
        communicator = WebsocketCommunicator(application, "/ws/notifications/", headers=socket_headers(client=client))
        assert (await communicator.connect())[0]
        await _frames(communicator, 1)
        layer = get_channel_layer()
        group = workspace_group(workspace_a.pk)
        await layer.group_send(group, {"type": "execution.updated", "workspace_id": str(workspace_a.pk)})
        assert await communicator.receive_nothing(timeout=0.3)
        await communicator.disconnect()

    async_to_sync(run)()
