"""The Django admin obeys workspace roles: staff who are viewers only look, nobody but
superusers reads secrets, and no page (list filters included) shows another tenant's workspaces."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission
from django.forms.models import model_to_dict
from django.urls import reverse

from safety.models import PendingApproval
from tenancy.models import WorkspaceMember
from tenancy.roles import Role
from tests.factories.orchestration import ExecutionFactory, ExecutionStepFactory
from tests.factories.tenancy import MemberFactory, UserFactory
from webhooks.models import Webhook

EVERY_PERMISSION = ["tenancy", "orchestration", "safety", "webhooks"]


def staff(username: str, workspace, role: str):
    user = UserFactory.create(username=username, is_staff=True)
    MemberFactory.create(workspace=workspace, user=user, role=role)
    # Django's model permissions allow everything: only the workspace role may hold them back.
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label__in=EVERY_PERMISSION))
    return user


@pytest.fixture
def rows(alice, charlie, workspace_a, workspace_b):
    workspace_a.integrations = {"caldav": {"url": "https://cal.example", "password": "caldav-s3cret-pass"}}
    workspace_a.save()
    execution = ExecutionFactory.create(workspace=workspace_a, user=alice)
    step = ExecutionStepFactory.create(execution=execution, step_number=1, status="succeeded")
    approval = PendingApproval.objects.create(execution=execution, action_type="email.send", reason="mail out")
    webhook = Webhook.objects.create(
        workspace=workspace_a, user=alice, name="nightly", trigger_type="http", trigger_config={"secret": "hmac-s3cret"}
    )
    ExecutionFactory.create(workspace=workspace_b, user=charlie, request="Bravo plans")
    return {"execution": execution, "step": step, "approval": approval, "webhook": webhook}


def change_url(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def post_unchanged(client, obj, **changes):
    data = {
        key: "" if value is None else json.dumps(value) if isinstance(value, dict | list) else value
        for key, value in model_to_dict(obj).items()
    }
    data.update(changes)
    return client.post(change_url(obj), data)


@pytest.mark.django_db
def test_it_lets_a_viewer_look_but_not_change_members_approvals_or_steps(client, rows, workspace_a):
    victor = staff("victor", workspace_a, Role.VIEWER)
    client.force_login(victor)
    alice_membership = WorkspaceMember.objects.get(user__username="alice")

    for obj in (alice_membership, rows["approval"], rows["step"], rows["execution"]):
        page = client.get(change_url(obj))
        assert page.status_code == 200, obj
        assert b'name="_save"' not in page.content, obj

    assert post_unchanged(client, alice_membership, role=Role.VIEWER).status_code == 403
    alice_membership.refresh_from_db()
    assert alice_membership.role == Role.OWNER
    assert post_unchanged(client, rows["step"], status="failed").status_code == 403
    rows["step"].refresh_from_db()
    assert rows["step"].status == "succeeded"
    assert client.post(change_url(rows["approval"]).replace("/change/", "/delete/"), {"post": "yes"}).status_code == 403
    assert PendingApproval.objects.filter(pk=rows["approval"].pk).exists()
    add_member = reverse("admin:tenancy_workspacemember_add")
    assert client.get(add_member).status_code == 403


@pytest.mark.django_db
def test_it_lets_a_workspace_admin_change_a_step_but_not_memberships(client, rows, workspace_a, workspace_b):
    dana = staff("dana", workspace_a, Role.ADMIN)
    client.force_login(dana)

    response = post_unchanged(client, rows["step"], status="failed", tool="drive.list")
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    rows["step"].refresh_from_db()
    assert rows["step"].status == "failed"
    membership = WorkspaceMember.objects.get(user__username="alice")
    assert post_unchanged(client, membership, role=Role.VIEWER).status_code == 403
    add_execution = client.get(reverse("admin:orchestration_execution_add")).content.decode()
    assert str(workspace_a.pk) in add_execution
    assert str(workspace_b.pk) not in add_execution


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.VIEWER, Role.OWNER])
def test_it_never_shows_integration_or_signing_secrets_to_staff(client, rows, workspace_a, role):
    client.force_login(staff("sam", workspace_a, role))
    workspace_page = client.get(change_url(workspace_a)).content.decode()
    webhook_page = client.get(change_url(rows["webhook"])).content.decode()
    webhook_list = client.get(reverse("admin:webhooks_webhook_changelist")).content.decode()
    assert "caldav-s3cret-pass" not in workspace_page
    assert "hmac-s3cret" not in webhook_page
    assert "hmac-s3cret" not in webhook_list


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changelist",
    [
        "admin:orchestration_execution_changelist",
        "admin:tenancy_workspacemember_changelist",
        "admin:tenancy_workspacepermission_changelist",
        "admin:webhooks_webhook_changelist",
    ],
)
def test_it_shows_no_other_tenants_workspace_in_list_filters(client, rows, workspace_a, workspace_b, changelist):
    client.force_login(staff("victor", workspace_a, Role.VIEWER))
    page = client.get(reverse(changelist)).content.decode()
    assert str(workspace_b.pk) not in page
    assert ">B<" not in page
    assert "charlie" not in page
