"""Who may do what: the role matrix, grants, and the one scoping function."""

from __future__ import annotations

import pytest

from orchestration.models import Execution, ExecutionStep
from tenancy.access import may, role_of, scope, workspaces_for
from tenancy.models import WorkspacePermission
from tenancy.roles import Action, ResourceType, Role
from tests.factories.orchestration import ExecutionFactory, ExecutionStepFactory
from tests.factories.tenancy import MemberFactory, UserFactory

EXPECTED = {
    Role.OWNER: set(Action.values),
    Role.ADMIN: set(Action.values) - {Action.DELETE_WORKSPACE},
    Role.OPERATOR: {Action.VIEW, Action.RUN, Action.CANCEL},
    Role.VIEWER: {Action.VIEW},
}


@pytest.mark.django_db
@pytest.mark.parametrize("role", Role.values)
@pytest.mark.parametrize("action", Action.values)
def test_it_allows_each_role_exactly_its_actions(role, action, workspace_a, workspace_b):
    member = UserFactory()
    MemberFactory(workspace=workspace_a, user=member, role=role)
    assert may(member, action, workspace_a) is (action in EXPECTED[role])
    assert may(member, action, workspace_b) is False, "a role never reaches another workspace"


@pytest.mark.django_db
def test_it_lets_a_grant_add_an_action_for_one_resource(bob, workspace_a):
    assert not may(bob, Action.APPROVE, workspace_a, ResourceType.TOOL, "email")
    WorkspacePermission.objects.create(
        workspace=workspace_a, user=bob, resource_type=ResourceType.TOOL, resource_id="email", permissions=["approve"]
    )
    assert may(bob, Action.APPROVE, workspace_a, ResourceType.TOOL, "email")
    assert not may(bob, Action.APPROVE, workspace_a, ResourceType.TOOL, "web")
    assert not may(bob, Action.MANAGE_MEMBERS, workspace_a, ResourceType.TOOL, "email")


@pytest.mark.django_db
def test_it_applies_an_everyone_grant_to_members_only(bob, charlie, workspace_a):
    WorkspacePermission.objects.create(
        workspace=workspace_a, resource_type=ResourceType.WORKSPACE, permissions=["approve"]
    )
    assert may(bob, Action.APPROVE, workspace_a, ResourceType.EXECUTION, "any")
    assert workspace_a.pk in {ws.pk for ws in workspaces_for(bob, Action.APPROVE)}
    assert not may(charlie, Action.APPROVE, workspace_a)
    assert not workspaces_for(charlie, Action.APPROVE).filter(pk=workspace_a.pk).exists()


@pytest.mark.django_db
def test_it_scopes_querysets_to_the_users_workspaces(alice, charlie, workspace_a, workspace_b):
    mine = ExecutionFactory(workspace=workspace_a, user=alice)
    theirs = ExecutionFactory(workspace=workspace_b, user=charlie)
    ExecutionStepFactory(execution=mine)
    ExecutionStepFactory(execution=theirs)
    assert list(scope(Execution.objects.all(), alice)) == [mine]
    assert list(scope(Execution.objects.all(), charlie)) == [theirs]
    assert [step.execution for step in scope(ExecutionStep.objects.all(), charlie)] == [theirs]


@pytest.mark.django_db
def test_it_scopes_by_action(alice, bob, workspace_a):
    ExecutionFactory(workspace=workspace_a)
    assert scope(Execution.objects.all(), bob, Action.RUN).count() == 1
    assert scope(Execution.objects.all(), bob, Action.APPROVE).count() == 0
    assert scope(Execution.objects.all(), alice, Action.APPROVE).count() == 1


@pytest.mark.django_db
def test_it_refuses_to_scope_rows_without_a_workspace(alice):
    from caching.models import CacheEntry

    with pytest.raises(TypeError, match="no workspace_path"):
        scope(CacheEntry.objects.all(), alice)


@pytest.mark.django_db
def test_it_gives_anonymous_users_nothing(workspace_a):
    from django.contrib.auth.models import AnonymousUser

    ExecutionFactory(workspace=workspace_a)
    assert scope(Execution.objects.all(), AnonymousUser()).count() == 0
    assert role_of(AnonymousUser(), workspace_a) is None
