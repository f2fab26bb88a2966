"""Who may do what: the role matrix, grants, and scoping on the manager (`Model.objects.for_user`)."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib.auth.models import AnonymousUser
from django.db.models import ForeignKey

from caching.models import CacheEntry
from orchestration.models import Execution, ExecutionStep
from tenancy.access import may, role_of
from tenancy.models import Workspace, WorkspacePermission
from tenancy.roles import Action, ResourceType, Role
from tenancy.scoping import TenantQuerySet, scope
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
    member = UserFactory.create()
    MemberFactory.create(workspace=workspace_a, user=member, role=role)
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
    assert workspace_a.pk in {ws.pk for ws in Workspace.objects.for_user(bob, Action.APPROVE)}
    assert not may(charlie, Action.APPROVE, workspace_a)
    assert not Workspace.objects.for_user(charlie, Action.APPROVE).filter(pk=workspace_a.pk).exists()


@pytest.mark.django_db
def test_it_scopes_querysets_to_the_users_workspaces(alice, charlie, workspace_a, workspace_b):
    mine = ExecutionFactory.create(workspace=workspace_a, user=alice)
    theirs = ExecutionFactory.create(workspace=workspace_b, user=charlie)
    ExecutionStepFactory.create(execution=mine)
    ExecutionStepFactory.create(execution=theirs)
    assert list(Execution.objects.for_user(alice)) == [mine]
    assert list(Execution.objects.for_user(charlie)) == [theirs]
    assert [step.execution for step in ExecutionStep.objects.for_user(charlie)] == [theirs]
    # The same filter for a queryset built elsewhere (a related manager, the admin's).
    assert list(scope(theirs.steps.all(), alice)) == []


@pytest.mark.django_db
def test_it_scopes_by_action(alice, bob, workspace_a):
    ExecutionFactory.create(workspace=workspace_a)
    assert Execution.objects.for_user(bob, Action.RUN).count() == 1
    assert Execution.objects.for_user(bob, Action.APPROVE).count() == 0
    assert Execution.objects.for_user(alice, Action.APPROVE).count() == 1


@pytest.mark.django_db
def test_it_refuses_to_scope_rows_without_a_workspace(alice):
    with pytest.raises(TypeError, match="no workspace_path"):
        scope(CacheEntry.objects.all(), alice)


@pytest.mark.django_db
def test_it_gives_anonymous_users_nothing(workspace_a):
    ExecutionFactory.create(workspace=workspace_a)
    assert Execution.objects.for_user(AnonymousUser()).count() == 0
    assert role_of(AnonymousUser(), workspace_a) is None


def test_it_gives_every_tenant_model_a_scoped_manager():
    """A model whose rows reach a workspace (a foreign key to one, or to a row that has one)
    declares its path and scopes on its manager; otherwise a view could list it unscoped."""
    tenant_models = {model for model in apps.get_models() if hasattr(model, "workspace_path")}
    reaching = {
        model
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if isinstance(field, ForeignKey) and field.related_model in tenant_models and not field.null
    }
    assert Execution in tenant_models
    assert reaching <= tenant_models, f"no workspace_path: {sorted(m.__name__ for m in reaching - tenant_models)}"
    for model in tenant_models:
        assert isinstance(model._default_manager.all(), TenantQuerySet), f"{model.__name__}.objects has no for_user"
