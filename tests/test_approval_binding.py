"""A person approves exactly the action that runs (issue 8, security item 1).

The attack: an e-mail step asks for approval with its input resolved from
shared context; a later step changes that context; after approval the step
resolved its input again and mailed someone else, or another file. Here the
mail goes through Django's SMTP backend to a real SMTP server (aiosmtpd).

These run in the embedded mode: the SMTP server's address lives in this
process's settings, which a separately started worker would not share.
"""

from __future__ import annotations

import hashlib
import time

import pytest

from orchestration.engine.runs import submit
from orchestration.models import ExecutionStatus, StepStatus
from safety.approvals import AlreadyDecided, decide
from safety.models import ApprovalStatus, PendingApproval
from tests.support import tool_call
from tests.support.engine import wait_for
from tools.base import ToolError
from tools.drive import WorkspaceDrive
from tools.frozen import freeze
from tools.integrations.email.tool import EmailSend

PUBLIC = "# Public report\n\nRevenue rose.\n"
PAYROLL = "name,salary\nalice,180000\n"


@pytest.fixture(autouse=True)
def embedded(engine, settings):
    settings.ORCHESTRATE_RUN_MODE = "embedded"
    yield
    from orchestration.engine.embedded import runtime

    assert runtime().wait_idle(30)


@pytest.fixture
def drive(workspace_a):
    drive = WorkspaceDrive(workspace_a.pk)
    drive.write_text("reports/public.md", PUBLIC)
    drive.write_text("confidential-payroll.md", PAYROLL)
    return drive


def _mail_plan(first: dict, later: dict | None = None) -> dict:
    """Step 1 shares `first`; step 2 mails what the context says; step 3 (optional) shares `later` after a while."""
    steps = [
        {"number": 1, "tool": "test.share", "input": {"values": first}},
        {
            "number": 2,
            "tool": "email.send",
            "input": {
                "to": {"$context": "recipients"},
                "subject": "Q3 report",
                "body": "Attached.",
                "attachments": [{"$context": "report"}],
            },
            "depends_on": [1],
        },
    ]
    if later is not None:
        # Runs beside step 2 and changes the context while step 2 waits for its approval.
        steps.append({"number": 3, "tool": "test.share", "input": {"values": later, "seconds": 1}, "depends_on": [1]})
    return {"steps": steps}


def _pending(execution, *, count: int = 1, timeout: float = 15.0) -> PendingApproval:
    """The run's newest pending request, once the run waits and `count` requests were made."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        approvals = list(PendingApproval.objects.filter(execution=execution).order_by("created_at"))
        if len(approvals) >= count and approvals[-1].status == ApprovalStatus.PENDING:
            wait_for(execution, statuses={ExecutionStatus.WAITING_APPROVAL})
            return approvals[-1]
        time.sleep(0.05)
    raise AssertionError(f"no approval request number {count}")


def _after_decision(execution, smtp_server) -> PendingApproval:
    """Once the approved step ran or asked again: nothing may have been mailed; the new request."""
    deadline = time.monotonic() + 15
    while PendingApproval.objects.filter(execution=execution).count() < 2:
        current = wait_for(execution, statuses={*ExecutionStatus.values} - {ExecutionStatus.RUNNING})
        if current.status in {ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED}:
            break
        assert time.monotonic() < deadline, "the approved step neither ran nor asked again"
        time.sleep(0.05)
    assert [message.rcpt_tos for message in smtp_server.messages] == []
    return _pending(execution, count=2)


def _step_done(execution, number: int) -> None:
    deadline = time.monotonic() + 15
    while execution.steps.get(step_number=number).status != StepStatus.SUCCEEDED:
        assert time.monotonic() < deadline, f"step {number} did not finish"
        time.sleep(0.05)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_it_does_not_mail_another_recipient_than_the_one_approved(alice, workspace_a, drive, smtp_server):
    plan = _mail_plan(
        {"recipients": ["boss@example.com"], "report": "reports/public.md"},
        later={"recipients": ["attacker@evil.example"]},
    )
    execution = submit(user=alice, workspace=workspace_a, request_text="mail the report", plan=plan)
    approval = _pending(execution)
    assert approval.action_data["to"] == ["boss@example.com"]
    _step_done(execution, 3)  # the context now names the attacker

    decide(approval, alice, approve=True)

    # The step does not run what was not approved: it asks again, showing what it would now do.
    again = _after_decision(execution, smtp_server)
    assert again.action_data["to"] == ["attacker@evil.example"]
    assert again.reason.startswith("The action changed since it was approved")
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.SUPERSEDED
    assert smtp_server.messages == []

    decide(again, alice, approve=False, comment="not our address")
    execution = wait_for(execution)
    assert execution.status == ExecutionStatus.FAILED
    assert smtp_server.messages == []


def test_it_does_not_attach_another_file_than_the_one_approved(alice, workspace_a, drive, smtp_server):
    plan = _mail_plan(
        {"recipients": ["boss@example.com"], "report": "reports/public.md"},
        later={"report": "confidential-payroll.md"},
    )
    execution = submit(user=alice, workspace=workspace_a, request_text="mail the report", plan=plan)
    approval = _pending(execution)
    _step_done(execution, 3)

    decide(approval, alice, approve=True)

    again = _after_decision(execution, smtp_server)
    approval.refresh_from_db()
    assert approval.bound_files == [{"name": "reports/public.md", "sha256": _sha(PUBLIC), "bytes": len(PUBLIC)}]
    assert again.action_data["attachments"] == ["confidential-payroll.md"]
    assert again.bound_files[0]["name"] == "confidential-payroll.md"
    assert smtp_server.messages == []
    decide(again, alice, approve=False)
    assert wait_for(execution).status == ExecutionStatus.FAILED
    assert smtp_server.messages == []


def test_it_asks_again_when_an_approved_file_changed_and_sends_the_bytes_approved(
    alice, workspace_a, drive, smtp_server
):
    plan = _mail_plan({"recipients": ["boss@example.com"], "report": "reports/public.md"})
    execution = submit(user=alice, workspace=workspace_a, request_text="mail the report", plan=plan)
    approval = _pending(execution)
    drive.write_text("reports/public.md", PAYROLL)  # the same name, other contents

    decide(approval, alice, approve=True)

    again = _after_decision(execution, smtp_server)
    assert again.bound_files == [{"name": "reports/public.md", "sha256": _sha(PAYROLL), "bytes": len(PAYROLL)}]
    assert smtp_server.messages == []
    with pytest.raises(AlreadyDecided, match="replaced"):
        decide(PendingApproval.objects.get(pk=approval.pk), alice, approve=True)

    decide(again, alice, approve=True)
    execution = wait_for(execution)
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    [received] = smtp_server.wait_for_messages(1)
    [attachment] = list(received.message.iter_attachments())
    assert attachment.get_payload(decode=True) == PAYROLL.encode()


def test_it_sends_exactly_the_approved_mail_once(alice, workspace_a, drive, smtp_server):
    plan = _mail_plan({"recipients": ["boss@example.com"], "report": "reports/public.md"})
    execution = submit(user=alice, workspace=workspace_a, request_text="mail the report", plan=plan)
    approval = _pending(execution)
    assert len(approval.input_digest) == 64

    decide(approval, alice, approve=True)
    execution = wait_for(execution)

    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    [received] = smtp_server.wait_for_messages(1)
    assert received.rcpt_tos == ["boss@example.com"]
    [attachment] = list(received.message.iter_attachments())
    assert attachment.get_filename() == "public.md"
    assert attachment.get_payload(decode=True) == PUBLIC.encode()
    assert PendingApproval.objects.filter(execution=execution).count() == 1


def test_it_attaches_the_frozen_bytes_even_if_the_file_changes_while_it_sends(workspace_a, drive, smtp_server):
    approved = {"reports/public.md": freeze(workspace_a.pk, PUBLIC.encode())}
    drive.write_text("reports/public.md", PAYROLL)  # changed after the engine checked it
    call = tool_call(
        {"to": ["boss@example.com"], "subject": "Q3", "body": "Attached.", "attachments": ["reports/public.md"]},
        workspace_a.pk,
    )
    call.approved_files = approved

    EmailSend().run(call)

    [received] = smtp_server.wait_for_messages(1)
    [attachment] = list(received.message.iter_attachments())
    assert attachment.get_payload(decode=True) == PUBLIC.encode()


def test_it_refuses_an_attachment_that_was_not_approved(workspace_a, drive, smtp_server):
    call = tool_call(
        {"to": ["boss@example.com"], "subject": "Q3", "body": "x", "attachments": ["confidential-payroll.md"]},
        workspace_a.pk,
    )
    call.approved_files = {"reports/public.md": freeze(workspace_a.pk, PUBLIC.encode())}

    with pytest.raises(ToolError, match="not approved"):
        EmailSend().run(call)
    assert smtp_server.messages == []


def test_it_shows_the_person_exactly_what_runs_with_the_frozen_files(alice, charlie, workspace_a, drive, client):
    plan = _mail_plan({"recipients": ["boss@example.com"], "report": "reports/public.md"})
    execution = submit(user=alice, workspace=workspace_a, request_text="mail the report", plan=plan)
    approval = _pending(execution)
    drive.write_text("reports/public.md", PAYROLL)  # the person downloads what was frozen, not this
    file_url = f"/approvals/{approval.pk}/files/{_sha(PUBLIC)}"

    client.force_login(alice)
    page = client.get("/approvals/").content.decode()
    assert "boss@example.com" in page
    assert approval.input_digest[:12] in page
    assert file_url in page
    download = client.get(file_url)
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PUBLIC.encode()
    assert download["Content-Disposition"].startswith("attachment")
    assert client.get(f"/approvals/{approval.pk}/files/{_sha(PAYROLL)}").status_code == 404

    client.force_login(charlie)
    assert client.get(file_url).status_code == 404


def test_it_fails_without_asking_when_an_attachment_is_missing(alice, workspace_a, drive, smtp_server):
    plan = _mail_plan({"recipients": ["boss@example.com"], "report": "reports/nope.md"})
    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text="mail the report", plan=plan))

    assert execution.status == ExecutionStatus.FAILED
    assert "File not found in the drive: reports/nope.md" in execution.steps.get(step_number=2).error
    assert not PendingApproval.objects.filter(execution=execution).exists()
    assert smtp_server.messages == []
