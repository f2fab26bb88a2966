"""The built-in outbox: with no EMAIL_URL, e-mail is kept as .eml files, listed on the Outbox page
of its own workspace only, and the run says plainly that nothing was delivered."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

import pytest

from orchestration.engine.runs import submit
from orchestration.models import ExecutionStatus
from safety.approvals import decide
from safety.models import PendingApproval
from tests.support import tool_call
from tests.support.engine import wait_for
from tools.drive import WorkspaceDrive
from tools.integrations.email.outbox import NOT_DELIVERED, OUTBOX_BACKEND, outbox_file
from tools.integrations.email.tool import EmailSend

REPORT = "# Q3 sales\n\nnorth 1200\n"


@pytest.fixture(autouse=True)
def outbox(settings, tmp_path):
    settings.EMAIL_BACKEND = OUTBOX_BACKEND
    settings.OUTBOX_DIR = tmp_path / "outbox"
    settings.DEFAULT_FROM_EMAIL = "orchestrate@example.com"
    return settings.OUTBOX_DIR


def _parse(path):
    with path.open("rb") as handle:
        return BytesParser(policy=policy.default).parse(handle)


def test_it_keeps_the_message_as_an_eml_file_and_says_it_was_not_delivered(workspace_a, outbox):
    WorkspaceDrive(workspace_a.pk).write_text("reports/q3.md", REPORT)
    tool_input = {"to": ["bob@example.com"], "subject": "Q3", "body": "Hello", "attachments": ["reports/q3.md"]}

    result = EmailSend().run(tool_call(tool_input, workspace_a.pk))

    assert result.output["delivered"] is False
    assert result.output["note"] == NOT_DELIVERED
    assert "NOT delivered" in result.summary
    [kept] = list(outbox.glob("*.eml"))
    assert kept == outbox_file(result.output["message_id"])
    message = _parse(kept)
    assert message["To"] == "bob@example.com"
    assert message["Subject"] == "Q3"
    assert message.get_body(preferencelist=("plain",)).get_content().strip() == "Hello"
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "q3.md"
    assert attachment.get_payload(decode=True).decode() == REPORT


def test_it_lists_the_workspace_s_mail_on_the_outbox_page_and_nowhere_else(
    engine, settings, alice, charlie, workspace_a, client
):
    settings.ORCHESTRATE_RUN_MODE = "embedded"
    WorkspaceDrive(workspace_a.pk).write_text("reports/q3-sales.md", REPORT)
    execution = submit(user=alice, workspace=workspace_a, request_text="e-mail the report to bob@example.com")
    execution = wait_for(execution, statuses={ExecutionStatus.WAITING_APPROVAL, ExecutionStatus.FAILED})
    decide(PendingApproval.objects.get(execution=execution), alice, approve=True)
    execution = wait_for(execution)
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    output = execution.steps.get(tool="email.send").output
    assert output["delivered"] is False
    name = outbox_file(output["message_id"]).name

    client.force_login(alice)
    page = client.get("/orchestrate/outbox/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "No mail server is configured" in text
    assert "not delivered" in text
    assert "bob@example.com" in text
    assert "q3-sales.md" in text
    download = client.get(f"/orchestrate/outbox/{name}")
    assert download.status_code == 200
    parsed = BytesParser(policy=policy.default).parsebytes(b"".join(download.streaming_content))
    assert parsed["To"] == "bob@example.com"
    attachment = client.get(f"/orchestrate/outbox/{name}/1")
    assert attachment.status_code == 200
    assert attachment.content.decode() == REPORT
    assert attachment["Content-Disposition"] == 'attachment; filename="q3-sales.md"'

    client.force_login(charlie)
    other = client.get("/orchestrate/outbox/")
    assert "bob@example.com" not in other.content.decode()
    assert client.get(f"/orchestrate/outbox/{name}").status_code == 404
    assert client.get(f"/orchestrate/outbox/{name}/1").status_code == 404
