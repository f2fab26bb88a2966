"""The console pages: sign-in, the executions list, workspaces and approvals, all scoped."""

from __future__ import annotations

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from monitoring.log_handler import flush_database_logs
from orchestration import forms as console_forms
from orchestration.models import Execution, ExecutionStatus
from safety.models import PendingApproval
from tests.factories.orchestration import ExecutionFactory
from tests.factories.tenancy import MemberFactory, UserFactory, WorkspaceFactory
from tools.drive import WorkspaceDrive


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
    ExecutionFactory.create(workspace=workspace_a, user=alice, request="Alpha quarterly numbers")
    ExecutionFactory.create(workspace=workspace_b, user=charlie, request="Bravo secret plans")
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
    ExecutionFactory.create(workspace=workspace_a, user=alice, request="<script>alert(1)</script>")
    client.force_login(alice)
    page = client.get("/orchestrate").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.django_db
def test_it_tells_a_user_without_workspaces_how_to_get_one(client):
    client.force_login(UserFactory.create(username="dora"))
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
    second = WorkspaceFactory.create(name="Second")
    MemberFactory.create(workspace=second, user=alice)
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
    mine = ExecutionFactory.create(workspace=workspace_a)
    theirs = ExecutionFactory.create(workspace=workspace_b)
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


# --- The console page: submit, filter, page, upload (orchestration.views) ---


@pytest.fixture
def no_planning():
    """Submitted runs stay pending: in a test's transaction, which never commits, the planning
    that `submit` sends after commit is never sent. These tests are about the form, not the engine."""
    yield
    flush_database_logs()  # the "submitted" log lines, while this test's tables still exist


@pytest.mark.django_db
def test_it_shows_the_submit_form_in_the_current_workspace(client, alice):
    client.force_login(alice)
    page = client.get("/orchestrate").content.decode()
    assert '<form id="submit-form"' in page
    assert '<label for="id_request">Request</label>' in page
    assert '<textarea name="request"' in page
    assert ">Run</button>" in page


@pytest.mark.django_db
def test_it_submits_a_request_and_goes_to_the_new_run(client, alice, workspace_a, no_planning):
    client.force_login(alice)
    response = client.post("/orchestrate", {"request": "  Summarise the sales files  "})
    execution = Execution.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("orchestration:execution", args=[execution.pk])
    assert (execution.request, execution.workspace, execution.user) == ("Summarise the sales files", workspace_a, alice)


@pytest.mark.django_db
def test_it_refuses_an_empty_request_with_a_message(client, alice, no_planning):
    client.force_login(alice)
    response = client.post("/orchestrate", {"request": "   "})
    assert response.status_code == 200
    assert b"Type a request to run." in response.content
    assert not Execution.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_viewer_and_keeps_what_they_typed(victor, client, workspace_a, no_planning):
    client.force_login(victor)
    response = client.post("/orchestrate", {"request": "Book <b>a</b> meeting & send it"})
    page = response.content.decode()
    assert response.status_code == 403
    assert "You may not run requests in A." in page
    assert "Book &lt;b&gt;a&lt;/b&gt; meeting &amp; send it</textarea>" in page
    assert not Execution.objects.exists()


@pytest.mark.django_db
def test_it_refuses_to_submit_without_a_workspace(client, no_planning):
    client.force_login(UserFactory.create(username="dora"))
    response = client.post("/orchestrate", {"request": "anything"})
    assert response.status_code == 403
    assert not Execution.objects.exists()


def _make_runs(workspace, user, count, **fields):
    return Execution.objects.bulk_create(
        Execution(workspace=workspace, user=user, request=f"Run number {n}", **fields) for n in range(count)
    )


@pytest.mark.django_db
def test_it_filters_by_status_and_searches_the_request(client, alice, workspace_a):
    ExecutionFactory.create(workspace=workspace_a, user=alice, request="Quarterly sales", status=ExecutionStatus.FAILED)
    ExecutionFactory.create(
        workspace=workspace_a, user=alice, request="Quarterly budget", status=ExecutionStatus.SUCCEEDED
    )
    ExecutionFactory.create(workspace=workspace_a, user=alice, request="Weekly sales", status=ExecutionStatus.SUCCEEDED)
    client.force_login(alice)

    def requests_of(query):
        return sorted(e.request for e in client.get(f"/orchestrate?{query}").context["page"].object_list)

    assert requests_of("status=succeeded") == ["Quarterly budget", "Weekly sales"]
    assert requests_of("q=SALES") == ["Quarterly sales", "Weekly sales"]
    assert requests_of("status=succeeded&q=sales") == ["Weekly sales"]
    assert requests_of("status=bogus") == ["Quarterly budget", "Quarterly sales", "Weekly sales"]
    page = client.get("/orchestrate?q=nothing-like-this").content.decode()
    assert "No executions match these filters." in page


@pytest.mark.django_db
def test_it_keeps_the_filters_across_pages(client, alice, workspace_a):
    _make_runs(workspace_a, alice, 30, status=ExecutionStatus.FAILED)
    _make_runs(workspace_a, alice, 5, status=ExecutionStatus.SUCCEEDED)
    client.force_login(alice)
    first = client.get("/orchestrate?status=failed&q=run")
    assert first.context["page"].paginator.count == 30
    assert 'href="?status=failed&amp;q=run&amp;page=2"' in first.content.decode()
    second = client.get("/orchestrate?status=failed&q=run&page=2")
    assert len(second.context["page"].object_list) == 5
    assert {e.status for e in second.context["page"].object_list} == {"failed"}
    assert 'href="?status=failed&amp;q=run&amp;page=1"' in second.content.decode()


@pytest.mark.django_db
def test_it_answers_htmx_with_the_list_fragment_only(client, alice, workspace_a):
    ExecutionFactory.create(workspace=workspace_a, user=alice, request="Fragment me")
    client.force_login(alice)
    response = client.get("/orchestrate?q=frag", headers={"HX-Request": "true", "HX-Target": "executions-list"})
    page = response.content.decode()
    assert page.lstrip().startswith('<section id="executions-list"')
    assert "Fragment me" in page
    assert "<html" not in page
    assert 'ws-connect="/ws/executions/?status=&amp;q=frag&amp;page=1&amp;since=' in page


@pytest.mark.django_db
def test_it_renders_the_list_row_contract(client, alice, workspace_a):
    execution = ExecutionFactory.create(
        workspace=workspace_a, user=alice, status=ExecutionStatus.RUNNING, current_step=2, total_steps=3
    )
    client.force_login(alice)
    page = client.get("/orchestrate").content.decode()
    assert '<table class="list executions-table" id="executions">' in page
    assert f'<tr id="execution-{execution.pk}">' in page
    assert '<span class="status status-running" data-status="running">Running</span>' in page
    assert f'href="/orchestrate/executions/{execution.pk}/"' in page
    assert "2 / 3" in page


# The page's fixed cost: session, user, current workspace, the count, the run
# permission, the approvals badge, the workspace switcher, the page of rows.
LIST_QUERIES = 8


@pytest.mark.django_db
def test_it_lists_ten_thousand_runs_with_a_constant_number_of_queries(
    client, alice, workspace_a, bob, django_assert_num_queries
):
    client.force_login(alice)
    client.get("/orchestrate")  # a fresh session's first page records its current workspace, once
    _make_runs(workspace_a, bob, 30)
    with django_assert_num_queries(LIST_QUERIES):
        client.get("/orchestrate")
    _make_runs(workspace_a, alice, 10_000 - 30)
    with django_assert_num_queries(LIST_QUERIES):
        response = client.get("/orchestrate")
    assert response.context["page"].paginator.count == 10_000
    assert len(response.context["page"].object_list) == 25


@pytest.mark.django_db
def test_it_uploads_files_to_the_current_workspaces_drive(client, alice, workspace_a):
    client.force_login(alice)
    files = [SimpleUploadedFile("sales.csv", b"region,total\nnorth,10\n"), SimpleUploadedFile("notes.txt", b"hi")]
    response = client.post(reverse("orchestration:upload"), {"files": files}, follow=True)
    drive = WorkspaceDrive(workspace_a.pk)
    assert drive.read_text("sales.csv") == "region,total\nnorth,10\n"
    assert drive.read_text("notes.txt") == "hi"
    page = response.content.decode()
    assert "Uploaded notes.txt, sales.csv to the drive of A." in page or "Uploaded sales.csv, notes.txt" in page
    assert f'href="/orchestrate/files/{workspace_a.pk}/sales.csv"' in page
    assert "22\xa0bytes" in page


@pytest.mark.django_db
def test_it_refuses_an_oversized_upload_clearly(client, alice, workspace_a, monkeypatch):
    monkeypatch.setattr(console_forms, "MAX_UPLOAD_BYTES", 10)
    client.force_login(alice)
    response = client.post(reverse("orchestration:upload"), {"files": [SimpleUploadedFile("big.bin", b"x" * 11)]})
    assert response.status_code == 200
    assert "big.bin is 11\xa0bytes; files may be at most 10\xa0bytes." in response.content.decode()
    assert not WorkspaceDrive(workspace_a.pk).exists("big.bin")


@pytest.mark.django_db
@pytest.mark.parametrize("name", [".orchestrate", ".hidden"])
def test_it_refuses_bad_file_names_clearly(client, alice, workspace_a, name):
    client.force_login(alice)
    files = [SimpleUploadedFile(name, b"x"), SimpleUploadedFile("fine.txt", b"y")]
    response = client.post(reverse("orchestration:upload"), {"files": files})
    assert "file names may not start with a dot" in response.content.decode()
    assert WorkspaceDrive(workspace_a.pk).list() == []  # nothing half-uploaded


@pytest.mark.django_db
def test_it_asks_for_a_file_when_none_is_chosen(client, alice):
    client.force_login(alice)
    assert b"Choose one or more files to upload." in client.post(reverse("orchestration:upload"), {}).content


@pytest.mark.django_db
def test_it_refuses_uploads_from_a_viewer(victor, client, workspace_a):
    client.force_login(victor)
    response = client.post(reverse("orchestration:upload"), {"files": [SimpleUploadedFile("a.txt", b"a")]})
    assert response.status_code == 403
    assert b"You may not upload files to A" in response.content
    assert not WorkspaceDrive(workspace_a.pk).exists("a.txt")


@pytest.mark.django_db
def test_it_downloads_drive_files_of_members_only(client, alice, charlie, workspace_a):
    WorkspaceDrive(workspace_a.pk).write_text("reports/q1.md", "# Q1")
    url = reverse("orchestration:drive_file", args=[workspace_a.pk, "reports/q1.md"])
    client.force_login(alice)
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"# Q1"
    assert 'attachment; filename="q1.md"' in response["Content-Disposition"]
    assert client.get(reverse("orchestration:drive_file", args=[workspace_a.pk, "missing.md"])).status_code == 404
    assert client.get(f"/orchestrate/files/{workspace_a.pk}/../../secret_key").status_code == 404
    client.force_login(charlie)
    assert client.get(url).status_code == 404


@pytest.mark.django_db
def test_it_hides_the_engines_bookkeeping_files(client, alice, workspace_a):
    WorkspaceDrive(workspace_a.pk).write_text(".orchestrate/sent/x", "marker")
    client.force_login(alice)
    assert client.get(f"/orchestrate/files/{workspace_a.pk}/.orchestrate/sent/x").status_code == 404


@pytest.mark.django_db
def test_it_shows_a_runs_duration(client, alice, workspace_a):
    execution = ExecutionFactory.create(workspace=workspace_a, user=alice, status=ExecutionStatus.SUCCEEDED)
    Execution.objects.filter(pk=execution.pk).update(
        completed_at=execution.created_at + datetime.timedelta(seconds=4, milliseconds=200)
    )
    client.force_login(alice)
    assert "4.2 s" in client.get("/orchestrate").content.decode()
