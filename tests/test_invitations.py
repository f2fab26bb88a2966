"""Membership by invitation: invitees accept or decline, members leave, the form reveals
nobody's existence, and the current workspace only ever changes by the user's choice."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tenancy.models import WorkspaceInvitation, WorkspaceMember
from tenancy.roles import Role
from tests.factories.tenancy import MemberFactory, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

LAST_OWNER = "A workspace needs at least one owner."


def invite(client, workspace, identifier: str, role: str = Role.VIEWER):
    return client.post(reverse("tenancy:add_member", args=[workspace.pk]), {"user": identifier, "role": role})


def _message(page: str, typed: str) -> str:
    """The page's flash message, with what the inviter typed blanked out."""
    found = re.search(r'<ul class="messages".*?</ul>', page, re.S)
    assert found is not None, "no message on the page"
    return found.group(0).replace(typed, "…")


def test_it_answers_the_same_whether_or_not_an_account_exists(client, alice, charlie, workspace_a):
    client.force_login(alice)
    responses = {}
    for who in ("charlie", "nobody-at-all", "charlie@example.com", "nobody@example.com"):
        response = invite(client, workspace_a, who)
        assert response.status_code == 302
        responses[who] = client.get(response["Location"]).content.decode()

    assert "If “charlie” has an account here, they are invited as viewer." in responses["charlie"]
    assert _message(responses["charlie"], "charlie") == _message(responses["nobody-at-all"], "nobody-at-all")
    assert _message(responses["charlie@example.com"], "charlie@example.com") == _message(
        responses["nobody@example.com"], "nobody@example.com"
    )
    listed = client.get(reverse("tenancy:detail", args=[workspace_a.pk])).content.decode()
    for who in responses:
        assert f'<td data-label="Invited"><bdi dir="ltr">{who}</bdi></td>' in listed
    # Only the invitation that matched an account can ever be accepted, by that account alone.
    assert list(WorkspaceInvitation.objects.exclude(user=None).values_list("identifier", flat=True)) == [
        "charlie",
        "charlie@example.com",
    ]


def test_it_lets_the_invitee_decline_and_nothing_changes(client, alice, charlie, workspace_a):
    client.force_login(alice)
    invite(client, workspace_a, "charlie")
    invitation = WorkspaceInvitation.objects.get()

    client.force_login(charlie)
    response = client.post(reverse("tenancy:decline_invitation", args=[invitation.pk]), follow=True)

    assert "Declined the invitation to A." in response.content.decode()
    assert not WorkspaceInvitation.objects.exists()
    assert not WorkspaceMember.objects.filter(workspace=workspace_a, user=charlie).exists()


def test_it_lets_nobody_but_the_invitee_answer(client, alice, bob, charlie, workspace_a):
    client.force_login(alice)
    invite(client, workspace_a, "charlie", Role.ADMIN)
    invitation = WorkspaceInvitation.objects.get()
    for someone in (bob, alice):
        client.force_login(someone)
        response = client.post(reverse("tenancy:accept_invitation", args=[invitation.pk]), follow=True)
        assert "That invitation is no longer open." in response.content.decode()
    assert WorkspaceInvitation.objects.filter(pk=invitation.pk).exists()
    assert _role(workspace_a, bob) == Role.OPERATOR


def test_it_lets_a_manager_cancel_an_invitation(client, alice, charlie, workspace_a):
    client.force_login(alice)
    invite(client, workspace_a, "charlie")
    invitation = WorkspaceInvitation.objects.get()
    client.post(reverse("tenancy:cancel_invitation", args=[workspace_a.pk, invitation.pk]))
    client.force_login(charlie)
    response = client.post(reverse("tenancy:accept_invitation", args=[invitation.pk]))
    assert response.status_code == 302
    assert not WorkspaceMember.objects.filter(workspace=workspace_a, user=charlie).exists()


def test_it_refuses_invitations_from_operators(client, bob, workspace_a):
    client.force_login(bob)
    assert invite(client, workspace_a, "charlie").status_code == 403
    assert not WorkspaceInvitation.objects.exists()


def _role(workspace, user) -> str | None:
    return WorkspaceMember.objects.filter(workspace=workspace, user=user).values_list("role", flat=True).first()


def test_it_lets_a_member_leave_after_confirming(client, alice, bob, workspace_a):
    client.force_login(bob)
    confirm = client.get(reverse("tenancy:leave", args=[workspace_a.pk])).content.decode()
    assert 'id="confirm-leave"' in confirm
    assert _role(workspace_a, bob) == Role.OPERATOR

    response = client.post(reverse("tenancy:leave", args=[workspace_a.pk]), follow=True)

    assert "You left A." in response.content.decode()
    assert _role(workspace_a, bob) is None
    assert client.get(reverse("tenancy:detail", args=[workspace_a.pk])).status_code == 404


def test_it_keeps_the_last_owner_from_leaving(client, alice, workspace_a):
    client.force_login(alice)
    response = client.post(reverse("tenancy:leave", args=[workspace_a.pk]))
    assert response.status_code == 400
    assert LAST_OWNER in response.content.decode()
    assert _role(workspace_a, alice) == Role.OWNER


def test_it_never_switches_the_current_workspace_to_one_the_user_did_not_choose(client, workspace_b):
    # "Aardvark" sorts before B: the old fallback (first workspace by name) would have moved her there.
    zoe = UserFactory.create(username="zoe")
    MemberFactory.create(workspace=workspace_b, user=zoe, role=Role.OPERATOR)
    aardvark = WorkspaceFactory.create(name="Aardvark")
    owner = UserFactory.create(username="otto")
    MemberFactory.create(workspace=aardvark, user=owner, role=Role.OWNER)
    client.force_login(zoe)
    assert client.get("/orchestrate").context["current_workspace"] == workspace_b

    client.force_login(owner)
    invite(client, aardvark, "zoe", Role.OPERATOR)
    client.force_login(zoe)
    session_cookie = client.cookies["sessionid"].value
    invitation = WorkspaceInvitation.objects.get(user=zoe)
    client.post(reverse("tenancy:accept_invitation", args=[invitation.pk]))

    assert client.cookies["sessionid"].value == session_cookie
    assert client.get("/orchestrate").context["current_workspace"] == workspace_b

    client.post(reverse("tenancy:leave", args=[workspace_b.pk]))
    page = client.get("/orchestrate")
    assert page.context["current_workspace"] is None  # not silently Aardvark
    assert 'id="choose-workspace"' in page.content.decode()

    client.post(reverse("tenancy:switch"), {"workspace": aardvark.pk})
    assert client.get("/orchestrate").context["current_workspace"] == aardvark
