"""The REST API with personal tokens: a run from creation to its report, scoping, roles, errors, limits."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from safety.models import PendingApproval
from tenancy import invitations
from tenancy.models import ApiToken, WorkspaceMember
from tenancy.roles import Role
from tenancy.tokens import create_token, revoke
from tests.factories.orchestration import ExecutionFactory
from tests.factories.tenancy import MemberFactory, UserFactory
from tests.support.polling import eventually
from tools.drive import WorkspaceDrive

PLAN = {
    "steps": [
        {"number": 1, "tool": "report.compose", "input": {"title": "API report", "sections": ["Revenue grew."]}},
        {"number": 2, "tool": "test.critical", "input": {"label": "publish"}, "depends_on": [1]},
    ]
}


def _client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {create_token(user, 'tests').secret}")
    return client


@pytest.fixture
def viewer(workspace_a):
    user = UserFactory(username="victor")
    MemberFactory(workspace=workspace_a, user=user, role=Role.VIEWER)
    return user


def _poll(client, url, statuses, timeout=30.0):
    def reached():
        body = client.get(url).json()
        return body if body["status"] in statuses else None

    return eventually(reached, what=f"{url} to be {' or '.join(sorted(statuses))}", timeout=timeout, interval=0.1)


@pytest.mark.usefixtures("engine")
def test_it_runs_a_request_through_approval_to_a_downloadable_report(alice, workspace_a):
    api = _client(alice)

    created = api.post("/api/v1/executions/", {"workspace": str(workspace_a.pk), "plan": PLAN}, format="json")
    assert created.status_code == 201, created.content
    url = f"/api/v1/executions/{created.json()['id']}/"
    waiting = _poll(api, url, {"waiting_approval"})
    assert [step["status"] for step in waiting["steps"]] == ["succeeded", "waiting_approval"]

    pending = eventually(
        lambda: api.get("/api/v1/approvals/", {"status": "pending"}).json()["results"], what="a pending approval"
    )
    assert pending[0]["action_type"] == "test.critical"
    approved = api.post(f"/api/v1/approvals/{pending[0]['id']}/approve/", {"comment": "ok"}, format="json")
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved"
    assert approved.json()["resolved_by"] == "alice"

    done = _poll(api, url, {"succeeded", "failed"})
    assert done["status"] == "succeeded", done["error"]
    files = api.get(f"/api/v1/workspaces/{workspace_a.pk}/files/").json()
    assert "reports/api-report.md" in [file["name"] for file in files]
    download = api.get(f"/api/v1/workspaces/{workspace_a.pk}/files/reports/api-report.md")
    assert download.status_code == 200
    report = b"".join(download.streaming_content).decode()
    assert "# API report" in report
    assert "Revenue grew." in report
    again = api.post(f"/api/v1/approvals/{pending[0]['id']}/approve/", {}, format="json")
    assert again.status_code == 409
    assert again["Content-Type"] == "application/problem+json"


def test_it_answers_404_for_another_workspaces_ids(alice, charlie, workspace_a, workspace_b):
    theirs = ExecutionFactory(workspace=workspace_b, user=charlie)
    approval = PendingApproval.objects.create(execution=theirs, action_type="test.critical", reason="r")
    WorkspaceDrive(workspace_b.pk).write_text("secret.txt", "B only")
    api = _client(alice)

    for url in (
        f"/api/v1/executions/{theirs.pk}/",
        f"/api/v1/executions/{theirs.pk}/steps/",
        f"/api/v1/executions/{theirs.pk}/context/",
        f"/api/v1/executions/{theirs.pk}/messages/",
        f"/api/v1/approvals/{approval.pk}/",
        f"/api/v1/workspaces/{workspace_b.pk}/",
        f"/api/v1/workspaces/{workspace_b.pk}/files/",
        f"/api/v1/workspaces/{workspace_b.pk}/files/secret.txt",
    ):
        response = api.get(url)
        assert response.status_code == 404, url
        assert response["Content-Type"] == "application/problem+json"
    for url in (f"/api/v1/executions/{theirs.pk}/cancel/", f"/api/v1/approvals/{approval.pk}/approve/"):
        assert api.post(url, {}, format="json").status_code == 404, url
    created = api.post("/api/v1/executions/", {"workspace": str(workspace_b.pk), "request": "x"}, format="json")
    assert created.status_code == 404
    approval.refresh_from_db()
    assert approval.status == "pending"
    assert [e["id"] for e in api.get("/api/v1/executions/").json()["results"]] == []


def test_it_lets_a_viewer_read_but_not_create_or_approve(alice, viewer, workspace_a):
    execution = ExecutionFactory(workspace=workspace_a, user=alice)
    approval = PendingApproval.objects.create(execution=execution, action_type="test.critical", reason="r")
    api = _client(viewer)

    assert api.get(f"/api/v1/executions/{execution.pk}/").status_code == 200
    created = api.post("/api/v1/executions/", {"workspace": str(workspace_a.pk), "request": "hi"}, format="json")
    assert created.status_code == 403
    assert created.json()["status"] == 403
    assert api.post(f"/api/v1/approvals/{approval.pk}/approve/", {}, format="json").status_code == 403
    assert api.post(f"/api/v1/executions/{execution.pk}/cancel/", {}, format="json").status_code == 403
    upload = api.post(f"/api/v1/workspaces/{workspace_a.pk}/files/", {"file": _upload()}, format="multipart")
    assert upload.status_code == 403
    approval.refresh_from_db()
    assert approval.status == "pending"


def _upload():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("sales.csv", b"region,revenue\nnorth,1200\n", content_type="text/csv")


def test_it_uploads_to_the_drive(bob, workspace_a):
    api = _client(bob)
    response = api.post(f"/api/v1/workspaces/{workspace_a.pk}/files/", {"file": _upload()}, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["name"] == "sales.csv"
    assert WorkspaceDrive(workspace_a.pk).read_text("sales.csv").startswith("region,revenue")


def test_it_refuses_missing_expired_and_revoked_tokens(alice):
    anonymous = APIClient().get("/api/v1/me/")
    assert anonymous.status_code == 401
    assert anonymous["Content-Type"] == "application/problem+json"
    assert anonymous.json()["title"] == "Unauthorized"

    issued = create_token(alice, "short")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    assert client.get("/api/v1/me/").json()["username"] == "alice"
    ApiToken.objects.filter(pk=issued.token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get("/api/v1/me/").status_code == 401

    issued = create_token(alice, "revoked")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    assert client.get("/api/v1/me/").status_code == 200
    assert revoke(alice, issued.token.pk)
    assert client.get("/api/v1/me/").status_code == 401
    client.credentials(HTTP_AUTHORIZATION="Bearer orc_not-a-token")
    assert client.get("/api/v1/me/").status_code == 401


def test_it_stores_only_a_hash_of_the_token(alice):
    issued = create_token(alice, "script")
    row = ApiToken.objects.get(pk=issued.token.pk)
    assert issued.secret.startswith("orc_")
    assert issued.secret not in (row.token_hash, row.prefix, row.name)
    assert len(row.token_hash) == 64


def test_it_prints_a_token_from_the_command_line(alice, capsys):
    call_command("api_token", "create", "--user", "alice", "--name", "nightly export")
    secret = capsys.readouterr().out.strip()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert client.get("/api/v1/me/").json()["username"] == "alice"
    assert ApiToken.objects.get().name == "nightly export"


def test_it_throttles_per_token(alice, bob, settings):
    from api.throttling import TokenRateThrottle

    original = TokenRateThrottle.THROTTLE_RATES
    TokenRateThrottle.THROTTLE_RATES = {"token": "3/min"}
    try:
        first, second = _client(alice), _client(alice)
        assert [first.get("/api/v1/me/").status_code for _ in range(3)] == [200, 200, 200]
        limited = first.get("/api/v1/me/")
        assert limited.status_code == 429
        assert limited["Content-Type"] == "application/problem+json"
        assert int(limited["Retry-After"]) > 0
        assert second.get("/api/v1/me/").status_code == 200  # another token of the same person
    finally:
        TokenRateThrottle.THROTTLE_RATES = original


def test_it_validates_input_as_problem_details(alice, workspace_a):
    api = _client(alice)
    response = api.post("/api/v1/executions/", {"workspace": "nope"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["title"] == "Invalid request"
    assert "workspace" in body["errors"]
    bad_plan = api.post(
        "/api/v1/executions/",
        {"workspace": str(workspace_a.pk), "plan": {"steps": [{"tool": "no.such"}]}},
        format="json",
    )
    assert bad_plan.status_code == 400
    assert "unknown tool" in bad_plan.json()["detail"]
    assert api.get(f"/api/v1/executions/{uuid.uuid4()}/").status_code == 404
    assert api.get("/api/v1/no-such-thing/").json()["status"] == 404


def test_it_serves_the_schema_and_docs_without_a_cdn(client, alice):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert "/api/v1/executions/" in schema.json()["paths"]
    client.force_login(alice)
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    page = docs.content.decode()
    assert "swagger-ui" in page
    # Nothing is loaded from another host (a bare "cdn" may occur in the page's random CSRF token).
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "cdn." not in page.lower()
    assert "//unpkg" not in page
    assert "jsdelivr" not in page


def test_it_manages_members_for_owners_only(alice, bob, workspace_a):
    UserFactory(username="dana")
    as_owner, as_operator = _client(alice), _client(bob)
    url = f"/api/v1/workspaces/{workspace_a.pk}/members/"
    assert as_operator.get(url).status_code == 403
    invited = as_owner.post(url, {"user": "dana", "role": "viewer"}, format="json")
    assert invited.status_code == 201
    assert invited.json()["identifier"] == "dana"
    # Nobody joins without saying yes: dana is a member once she accepts.
    assert sorted(m["username"] for m in as_owner.get(url).json()["results"]) == ["alice", "bob"]
    invitations.accept(User.objects.get(username="dana"), uuid.UUID(invited.json()["id"]))
    member = WorkspaceMember.objects.get(workspace=workspace_a, user__username="dana")
    member_url = f"{url}{member.pk}/"
    assert as_owner.patch(member_url, {"role": "operator"}, format="json").json()["role"] == "operator"
    assert as_owner.delete(member_url).status_code == 204
    assert sorted(m["username"] for m in as_owner.get(url).json()["results"]) == ["alice", "bob"]


def test_it_runs_in_your_first_runnable_workspace_when_none_is_named(bob, viewer, workspace_a):
    created = _client(bob).post("/api/v1/executions/", {"request": "summarise the sales files"}, format="json")
    assert created.status_code == 201
    assert created.json()["workspace"] == str(workspace_a.pk)
    assert _client(viewer).post("/api/v1/executions/", {"request": "x"}, format="json").status_code == 403


def test_it_manages_webhooks_and_reads_their_history(alice, bob, viewer, workspace_a):
    as_bob = _client(bob)
    created = as_bob.post(
        "/api/v1/webhooks/",
        {
            "workspace": str(workspace_a.pk),
            "name": "Nightly",
            "trigger_type": "cron",
            "trigger_config": {"cron": "0 2 * * *", "timezone": "UTC"},
            "action_config": {"request": "Summarise the day"},
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert body["user"] == "bob"
    assert body["next_run_at"].endswith("02:00:00Z")
    url = f"/api/v1/webhooks/{body['id']}/"
    assert "secret" not in as_bob.get(url).json()

    bad = as_bob.post(
        "/api/v1/webhooks/",
        {"workspace": str(workspace_a.pk), "name": "Bad", "trigger_type": "cron", "action_config": {"request": "x"}},
        format="json",
    )
    assert bad.status_code == 400
    assert "cron expression" in bad.json()["detail"]

    as_viewer = _client(viewer)
    assert as_viewer.get(url).status_code == 200
    assert as_viewer.patch(url, {"enabled": False}, format="json").status_code == 403
    assert as_viewer.post(f"{url}rotate/").status_code == 403
    assert as_bob.patch(url, {"enabled": False}, format="json").json()["enabled"] is False
    rotated = _client(alice).post(f"{url}rotate/")
    assert rotated.status_code == 200
    assert rotated.json()["secret"] != body["secret"]
    history = as_bob.get(f"{url}history/", {"success": "false"})
    assert history.status_code == 200
    assert history.json()["results"] == []
    assert as_bob.delete(url).status_code == 204
    assert as_bob.get(url).status_code == 404


def test_it_hides_another_workspaces_webhooks(alice, charlie, workspace_a, workspace_b):
    from webhooks.services import create_webhook

    theirs = create_webhook(charlie, workspace_b, name="B", trigger_type="http", action_config={"request": "x"})
    api = _client(alice)
    assert api.get(f"/api/v1/webhooks/{theirs.webhook.pk}/").status_code == 404
    assert api.post(f"/api/v1/webhooks/{theirs.webhook.pk}/rotate/").status_code == 404
    assert api.get("/api/v1/webhooks/").json()["count"] == 0
    created = api.post(
        "/api/v1/webhooks/",
        {"workspace": str(workspace_b.pk), "name": "Mine", "trigger_type": "http", "action_config": {"request": "x"}},
        format="json",
    )
    assert created.status_code == 404


@pytest.mark.usefixtures("engine")
def test_it_answers_a_runs_question_and_the_same_run_finishes(alice, bob, charlie, viewer, workspace_a):
    drive = WorkspaceDrive(workspace_a.pk)
    drive.write_text("sales_q1.csv", "region,revenue\nnorth,1200\nsouth,800\n")
    drive.write_text("sales_q2.csv", "region,revenue\nnorth,1500\nsouth,900\n")
    api = _client(bob)
    created = api.post(
        "/api/v1/executions/",
        {"workspace": str(workspace_a.pk), "request": "crunch the numbers and write a report"},
        format="json",
    )
    assert created.status_code == 201, created.content
    url = f"/api/v1/executions/{created.json()['id']}/"
    asking = _poll(api, url, {"waiting_input", "failed", "succeeded"})
    assert asking["status"] == "waiting_input"
    assert asking["question"]["field"] == "files"
    assert "sales_q1.csv" in asking["question"]["candidates"]

    # Another workspace's member sees no such run; a viewer may not steer it; a bad answer changes nothing.
    assert _client(charlie).post(f"{url}answer/", {"answer": "sales_q1.csv"}, format="json").status_code == 404
    assert _client(viewer).post(f"{url}answer/", {"answer": "sales_q1.csv"}, format="json").status_code == 403
    bad = api.post(f"{url}answer/", {"answer": "marketing"}, format="json")
    assert bad.status_code == 400
    assert "No file in the drive matches" in bad.json()["errors"]["answer"][0]
    assert api.get(url).json()["status"] == "waiting_input"

    answered = api.post(f"{url}answer/", {"answer": "sales_q1.csv, sales_q2.csv"}, format="json")
    assert answered.status_code == 200, answered.content
    done = _poll(api, url, {"succeeded", "failed"})
    assert done["status"] == "succeeded"
    assert done["answers"] == {"files": "sales_q1.csv, sales_q2.csv"}
    assert [step["tool"] for step in done["steps"]] == ["analysis.describe", "report.compose"]
    # Answered once: the question is closed.
    assert api.post(f"{url}answer/", {"answer": "sales_q1.csv"}, format="json").status_code == 409
