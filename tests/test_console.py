"""The console pages: sign-in, the executions list, workspaces and approvals, all scoped."""

from __future__ import annotations

import pytest
from django.urls import reverse

from safety.models import PendingApproval
from tests.factories.orchestration import ExecutionFactory
from tests.factories.tenancy import MemberFactory, UserFactory, WorkspaceFactory


@pytest.mark.django_db
def test_it_sends_anonymous_visitors_to_log_in(client):
    response = client.get("/orchestrate")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/orchestrate"


@pytest.mark.django_db
def test_it_logs_in_and_lands_on_the_console(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": "password"}, follow=True)
    assert response.redirect_chain[-1][0] == "/orchestrate"
    assert b"No executions yet" in response.content


@pytest.mark.django_db
def test_it_refuses_a_wrong_password_with_a_message(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


@pytest.mark.django_db
def test_it_shows_only_the_users_workspaces_executions(client, alice, charlie, workspace_a, workspace_b):
    ExecutionFactory(workspace=workspace_a, user=alice, request="Alpha quarterly numbers")
    ExecutionFactory(workspace=workspace_b, user=charlie, request="Bravo secret plans")
    client.force_login(charlie)
    page = client.get("/orchestrate").content.decode()
    assert "Bravo secret plans" in page
    assert "Alpha quarterly numbers" not in page
    client.force_login(alice)
    page = client.get("/orchestrate").content.decode()
    assert "Alpha quarterly numbers" in page
    assert "Bravo secret plans" not in page


@pytest.mark.django_db
def test_it_escapes_request_text(client, alice, workspace_a):
    ExecutionFactory(workspace=workspace_a, user=alice, request="<script>alert(1)</script>")
    client.force_login(alice)
    page = client.get("/orchestrate").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.django_db
def test_it_tells_a_user_without_workspaces_how_to_get_one(client):
    client.force_login(UserFactory(username="dora"))
    assert b"not a member of any workspace" in client.get("/orchestrate").content


@pytest.mark.django_db
def test_it_pages_the_executions_list(client, alice, workspace_a):
    ExecutionFactory.create_batch(30, workspace=workspace_a, user=alice)
    client.force_login(alice)
    first = client.get("/orchestrate")
    assert len(first.context["page"].object_list) == 25
    assert len(client.get("/orchestrate?page=2").context["page"].object_list) == 5
    assert client.get("/orchestrate?page=banana").context["page"].number == 1


@pytest.mark.django_db
def test_it_switches_the_current_workspace_in_the_session(client, alice, workspace_a):
    second = WorkspaceFactory(name="Second")
    MemberFactory(workspace=second, user=alice)
    client.force_login(alice)
    assert client.get("/orchestrate").context["current_workspace"] == workspace_a
    response = client.post(reverse("tenancy:switch"), {"workspace": second.pk, "next": "/orchestrate"})
    assert response["Location"] == "/orchestrate"
    assert client.get("/orchestrate").context["current_workspace"] == second


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["not-a-uuid", "", "00000000-0000-0000-0000-000000000000"])
def test_it_refuses_to_switch_to_a_bad_workspace(client, alice, value):
    client.force_login(alice)
    response = client.post(reverse("tenancy:switch"), {"workspace": value}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("tenancy:list")
    assert b"workspace" in response.content


@pytest.mark.django_db
def test_it_refuses_to_switch_into_someone_elses_workspace(client, charlie, workspace_a):
    client.force_login(charlie)
    response = client.post(reverse("tenancy:switch"), {"workspace": workspace_a.pk}, follow=True)
    assert b"You are not a member of that workspace." in response.content
    assert response.context["current_workspace"] != workspace_a


@pytest.mark.django_db
def test_it_refuses_an_offsite_next_url(client, alice, workspace_a):
    client.force_login(alice)
    response = client.post(reverse("tenancy:switch"), {"workspace": workspace_a.pk, "next": "https://evil.example/"})
    assert response["Location"] == "/orchestrate"


@pytest.mark.django_db
def test_it_lists_pending_approvals_of_the_users_workspaces_only(client, alice, charlie, workspace_a, workspace_b):
    mine = ExecutionFactory(workspace=workspace_a)
    theirs = ExecutionFactory(workspace=workspace_b)
    PendingApproval.objects.create(execution=mine, action_type="email.send", reason="Sends mail to bob")
    PendingApproval.objects.create(execution=theirs, action_type="web.post", reason="Posts to B's CRM")
    client.force_login(alice)
    page = client.get("/approvals/").content.decode()
    assert "Sends mail to bob" in page
    assert "Posts to B&#x27;s CRM" not in page


@pytest.mark.django_db
def test_it_lists_the_users_workspaces_with_roles(client, bob):
    client.force_login(bob)
    page = client.get("/workspaces/").content.decode()
    assert "<td>A</td>" in page
    assert "Operator" in page
