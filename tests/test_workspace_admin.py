"""Workspace admin: creating workspaces, adding, re-roling and removing members, and permission grants."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.urls import reverse

from tenancy import services
from tenancy.access import may
from tenancy.models import Workspace, WorkspaceInvitation, WorkspaceMember, WorkspacePermission
from tenancy.roles import Action, ResourceType, Role
from tests.factories.orchestration import ExecutionFactory
from tests.factories.tenancy import MemberFactory, UserFactory

pytestmark = pytest.mark.django_db

LAST_OWNER = "A workspace needs at least one owner."


def _url(name, workspace, *args):
    return reverse(f"tenancy:{name}", args=[workspace.pk, *args])


def _member(workspace, username) -> WorkspaceMember:
    return WorkspaceMember.objects.get(workspace=workspace, user__username=username)


@pytest.fixture
def dora(workspace_a):
    """An admin of A."""
    user = UserFactory.create(username="dora")
    MemberFactory.create(workspace=workspace_a, user=user, role=Role.ADMIN)
    return user


def test_it_creates_a_workspace_with_the_creator_as_owner(client, charlie):
    client.force_login(charlie)
    response = client.post(reverse("tenancy:create"), {"name": "  Charlie's lab  "}, follow=True)
    workspace = Workspace.objects.get(name="Charlie's lab")
    assert response.redirect_chain == [(_url("detail", workspace), 302)]
    assert _member(workspace, "charlie").role == Role.OWNER
    assert "Created Charlie&#x27;s lab; you are its owner." in response.content.decode()


@pytest.mark.parametrize(("name", "error"), [("", "Give the workspace a name."), ("   ", "Give the workspace a name.")])
def test_it_refuses_an_empty_workspace_name(client, charlie, name, error):
    client.force_login(charlie)
    response = client.post(reverse("tenancy:create"), {"name": name})
    assert response.status_code == 400
    assert error in response.content.decode()


def test_it_refuses_a_duplicate_workspace_name_whatever_the_case(client, alice, charlie):
    client.force_login(charlie)
    response = client.post(reverse("tenancy:create"), {"name": "a"})
    assert response.status_code == 400
    assert "A workspace named “a” already exists; choose another name." in response.content.decode()
    assert Workspace.objects.filter(name__iexact="a").count() == 1


def test_it_shows_the_create_form_and_a_link_to_each_workspace(client, alice, workspace_a):
    client.force_login(alice)
    page = client.get(reverse("tenancy:list")).content.decode()
    assert 'id="create-workspace-form"' in page
    assert f'href="{_url("detail", workspace_a)}"' in page


def test_it_invites_by_username_and_the_invitee_sees_the_workspace_only_after_accepting(client, alice, workspace_a):
    ExecutionFactory.create(workspace=workspace_a, user=alice, request="Alpha quarterly numbers")
    bob = UserFactory.create(username="bob")

    client.force_login(alice)
    response = client.post(_url("add_member", workspace_a), {"user": "bob", "role": Role.OPERATOR}, follow=True)
    page = response.content.decode()
    assert "If “bob” has an account here, they are invited as operator." in page
    assert 'id="invitations"' in page
    assert not WorkspaceMember.objects.filter(workspace=workspace_a, user=bob).exists()

    client.force_login(bob)
    assert "Alpha quarterly numbers" not in client.get("/orchestrate").content.decode()
    assert client.get(_url("detail", workspace_a)).status_code == 404
    listing = client.get(reverse("tenancy:list")).content.decode()
    invitation = WorkspaceInvitation.objects.get(user=bob)
    assert f'id="invitation-{invitation.pk}"' in listing
    response = client.post(reverse("tenancy:accept_invitation", args=[invitation.pk]), follow=True)
    assert "You joined A as operator." in response.content.decode()
    assert _member(workspace_a, "bob").role == Role.OPERATOR
    assert not WorkspaceInvitation.objects.exists()
    assert "Alpha quarterly numbers" in client.get("/orchestrate").content.decode()


def test_it_invites_by_email_in_any_case(client, alice, workspace_a):
    bob = UserFactory.create(username="bob", email="Bob@Example.com")
    client.force_login(alice)
    response = client.post(_url("add_member", workspace_a), {"user": "bob@example.COM", "role": Role.VIEWER})
    assert response.status_code == 302
    assert WorkspaceInvitation.objects.get(workspace=workspace_a).user == bob


def test_it_refuses_an_existing_member(client, alice, bob, workspace_a):
    client.force_login(alice)
    response = client.post(_url("add_member", workspace_a), {"user": "bob", "role": Role.VIEWER})
    assert response.status_code == 400
    assert "bob is already a member of A." in response.content.decode()
    assert _member(workspace_a, "bob").role == Role.OPERATOR
    assert not WorkspaceInvitation.objects.exists()


def test_it_changes_a_role(client, alice, bob, workspace_a):
    client.force_login(alice)
    response = client.post(_url("change_role", workspace_a, _member(workspace_a, "bob").pk), {"role": Role.ADMIN})
    assert response.status_code == 302
    assert _member(workspace_a, "bob").role == Role.ADMIN
    assert may(bob, Action.MANAGE_MEMBERS, workspace_a)


def test_it_removes_a_member_after_a_confirmation_step(client, alice, bob, workspace_a):
    WorkspacePermission.objects.create(
        workspace=workspace_a, user=bob, resource_type=ResourceType.TOOL, permissions=[Action.APPROVE]
    )
    membership = _member(workspace_a, "bob")
    client.force_login(alice)
    confirm = client.get(_url("remove_member", workspace_a, membership.pk)).content.decode()
    assert "Remove bob from A?" in confirm
    assert 'id="confirm-remove"' in confirm
    assert WorkspaceMember.objects.filter(pk=membership.pk).exists()

    response = client.post(_url("remove_member", workspace_a, membership.pk), follow=True)
    assert "Removed bob from A." in response.content.decode()
    assert not WorkspaceMember.objects.filter(pk=membership.pk).exists()
    assert not WorkspacePermission.objects.filter(user=bob).exists()
    client.force_login(bob)
    assert client.get(_url("detail", workspace_a)).status_code == 404


def test_it_keeps_the_last_owner(client, alice, workspace_a):
    owner = _member(workspace_a, "alice")
    client.force_login(alice)
    for response in [
        client.post(_url("change_role", workspace_a, owner.pk), {"role": Role.ADMIN}),
        client.post(_url("remove_member", workspace_a, owner.pk)),
    ]:
        assert response.status_code == 400
        assert LAST_OWNER in response.content.decode()
    assert _member(workspace_a, "alice").role == Role.OWNER


def test_it_lets_one_of_two_owners_step_down(client, alice, workspace_a):
    MemberFactory.create(workspace=workspace_a, user=UserFactory.create(username="olga"), role=Role.OWNER)
    client.force_login(alice)
    client.post(_url("change_role", workspace_a, _member(workspace_a, "alice").pk), {"role": Role.ADMIN})
    assert _member(workspace_a, "alice").role == Role.ADMIN


@pytest.mark.django_db(transaction=True)
def test_it_keeps_one_owner_when_two_owners_demote_each_other_at_once(alice, workspace_a):
    olga = UserFactory.create(username="olga")
    MemberFactory.create(workspace=workspace_a, user=olga, role=Role.OWNER)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def demote(actor, target):
        try:
            barrier.wait()
            services.change_role(actor, workspace_a, _member(workspace_a, target).pk, Role.VIEWER)
            outcomes.append("demoted")
        except services.MembershipError as exc:
            outcomes.append(exc.message)
        except Exception as exc:  # e.g. the other already demoted this actor: not an owner any more
            outcomes.append(type(exc).__name__)
        finally:
            connection.close()

    threads = [threading.Thread(target=demote, args=args) for args in [(alice, "olga"), (olga, "alice")]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes.count("demoted") == 1
    assert WorkspaceMember.objects.filter(workspace=workspace_a, role=Role.OWNER).count() == 1


def test_it_stops_an_admin_from_touching_owners(client, alice, dora, bob, workspace_a):
    client.force_login(dora)
    page = client.get(_url("detail", workspace_a)).content.decode()
    assert 'value="owner"' not in page
    assert "Only an owner can change an owner." in page
    owner = _member(workspace_a, "alice")
    for response in [
        client.post(_url("change_role", workspace_a, owner.pk), {"role": Role.VIEWER}),
        client.post(_url("remove_member", workspace_a, owner.pk)),
        client.post(_url("change_role", workspace_a, _member(workspace_a, "bob").pk), {"role": Role.OWNER}),
    ]:
        assert response.status_code == 403
        assert "Only an owner can" in response.content.decode()
    response = client.post(_url("add_member", workspace_a), {"user": UserFactory.create().username, "role": Role.OWNER})
    assert response.status_code == 400  # not among the roles an admin may give
    assert _member(workspace_a, "alice").role == Role.OWNER
    assert _member(workspace_a, "bob").role == Role.OPERATOR
    # What admins may do: manage everyone else.
    client.post(_url("change_role", workspace_a, _member(workspace_a, "bob").pk), {"role": Role.VIEWER})
    assert _member(workspace_a, "bob").role == Role.VIEWER


def test_it_refuses_operators_and_viewers_managing_members(victor, client, alice, bob, workspace_a):
    owner = _member(workspace_a, "alice")
    for person in (bob, victor):
        client.force_login(person)
        page = client.get(_url("detail", workspace_a)).content.decode()
        assert 'id="members"' in page
        assert 'id="add-member-form"' not in page
        assert 'id="grant-form"' not in page
        assert "Change role" not in page
        requests = [
            client.post(_url("add_member", workspace_a), {"user": "charlie", "role": Role.VIEWER}),
            client.post(_url("change_role", workspace_a, owner.pk), {"role": Role.VIEWER}),
            client.get(_url("remove_member", workspace_a, owner.pk)),
            client.post(_url("remove_member", workspace_a, owner.pk)),
            client.post(_url("add_grant", workspace_a), {"resource_type": "tool", "permissions": ["approve"]}),
        ]
        assert [response.status_code for response in requests] == [403] * 5
    assert WorkspaceMember.objects.filter(workspace=workspace_a).count() == 3
    assert _member(workspace_a, "alice").role == Role.OWNER


def test_it_hides_a_workspace_from_non_members(client, alice, charlie, workspace_a):
    client.force_login(charlie)
    owner = _member(workspace_a, "alice")
    assert client.get(_url("detail", workspace_a)).status_code == 404
    assert client.post(_url("add_member", workspace_a), {"user": "charlie", "role": Role.OWNER}).status_code == 404
    assert client.post(_url("remove_member", workspace_a, owner.pk)).status_code == 404
    assert not WorkspaceMember.objects.filter(workspace=workspace_a, user=charlie).exists()


def test_it_shows_members_with_email_role_and_since(client, alice, bob, workspace_a):
    client.force_login(bob)
    page = client.get(_url("detail", workspace_a)).content.decode()
    assert 'id="member-alice"' in page
    assert "alice@example.com" in page
    assert "Owner" in page


def test_it_adds_and_removes_grants_and_access_follows(client, alice, bob, workspace_a):
    assert not may(bob, Action.APPROVE, workspace_a, ResourceType.TOOL, "test.critical")
    client.force_login(alice)
    data = {"user": str(bob.pk), "resource_type": "tool", "resource_id": "test.critical", "permissions": ["approve"]}
    response = client.post(_url("add_grant", workspace_a), data, follow=True)
    assert "Added the grant." in response.content.decode()
    grant = WorkspacePermission.objects.get(workspace=workspace_a, user=bob)
    assert grant.permissions == ["approve"]
    assert f'id="grant-{grant.pk}"' in response.content.decode()
    assert may(bob, Action.APPROVE, workspace_a, ResourceType.TOOL, "test.critical")
    assert not may(bob, Action.APPROVE, workspace_a, ResourceType.TOOL, "email.send")

    response = client.post(_url("add_grant", workspace_a), data)
    assert response.status_code == 400
    assert "There is already a grant for them on that resource" in response.content.decode()

    client.post(_url("remove_grant", workspace_a, grant.pk))
    assert not WorkspacePermission.objects.filter(pk=grant.pk).exists()
    assert not may(bob, Action.APPROVE, workspace_a, ResourceType.TOOL, "test.critical")


def test_it_grants_to_everyone_with_a_star_by_default(client, alice, bob, workspace_a):
    client.force_login(alice)
    data = {"user": "", "resource_type": "workspace", "resource_id": "", "permissions": ["approve"]}
    assert client.post(_url("add_grant", workspace_a), data).status_code == 302
    grant = WorkspacePermission.objects.get(workspace=workspace_a)
    assert (grant.user, grant.resource_id) == (None, "*")
    assert may(bob, Action.APPROVE, workspace_a)


def test_it_refuses_grants_beyond_the_granters_own_actions_or_to_outsiders(client, dora, charlie, workspace_a):
    client.force_login(dora)
    data = {"user": "", "resource_type": "workspace", "permissions": ["delete_workspace"]}
    response = client.post(_url("add_grant", workspace_a), data)
    assert response.status_code == 403
    assert "You may only grant what you may do yourself" in response.content.decode()
    data = {"user": str(charlie.pk), "resource_type": "tool", "permissions": ["approve"]}
    response = client.post(_url("add_grant", workspace_a), data)
    assert response.status_code == 400
    assert "Choose a member of this workspace, or everyone." in response.content.decode()
    response = client.post(_url("add_grant", workspace_a), {"resource_type": "tool"})
    assert "Tick at least one permission." in response.content.decode()
    assert not WorkspacePermission.objects.exists()


def test_it_escapes_names_users_typed(client, alice):
    client.force_login(alice)
    client.post(reverse("tenancy:create"), {"name": "<script>x</script>"})
    page = client.get(reverse("tenancy:list")).content.decode()
    assert "<script>x</script>" not in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page
