"""The safety issue's flows end to end, through the planner and the engine, against real servers:
an SMTP server (aiosmtpd) and a CalDAV server (Radicale) on loopback.

These run in the embedded mode: the servers' addresses live in this
process's settings, which a separately started worker would not share.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import icalendar
import pytest

from orchestration.engine.recovery import sweep
from orchestration.engine.runs import submit
from orchestration.models import ExecutionStatus, ExecutionStep, StepStatus
from safety.approvals import decide
from safety.models import PendingApproval
from tests.support.engine import wait_for
from tools.drive import WorkspaceDrive

REPORT = "# Q3 sales\n\n| region | revenue |\n|---|---|\n| north | 1200 |\n"


@pytest.fixture(autouse=True)
def embedded(engine, settings):
    settings.ORCHESTRATE_RUN_MODE = "embedded"
    yield
    from orchestration.engine.embedded import runtime

    assert runtime().wait_idle(30)


@pytest.fixture
def report_in_drive(workspace_a):
    drive = WorkspaceDrive(workspace_a.pk)
    drive.write_text("reports/q3-sales.md", REPORT)
    return drive


def _waiting(execution):
    execution = wait_for(execution, statuses={ExecutionStatus.WAITING_APPROVAL, ExecutionStatus.FAILED})
    assert execution.status == ExecutionStatus.WAITING_APPROVAL, execution.error
    return execution, PendingApproval.objects.get(execution=execution)


def test_it_mails_the_report_only_after_approval_exactly_once(alice, workspace_a, report_in_drive, smtp_server):
    execution = submit(user=alice, workspace=workspace_a, request_text="e-mail the report to bob@example.com")
    execution, approval = _waiting(execution)

    assert approval.action_type == "email.send"
    assert approval.estimated_impact["recipients"] == ["bob@example.com"]
    assert approval.estimated_impact["attachments"] == ["reports/q3-sales.md"]
    assert smtp_server.messages == []

    decide(approval, alice, approve=True)
    execution = wait_for(execution)

    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    [received] = smtp_server.wait_for_messages(1)
    assert received.rcpt_tos == ["bob@example.com"]
    [attachment] = list(received.message.iter_attachments())
    assert attachment.get_filename() == "q3-sales.md"
    assert attachment.get_content().replace("\r\n", "\n") == REPORT
    assert len(smtp_server.messages) == 1


def test_it_sends_nothing_when_the_mail_is_rejected(alice, workspace_a, report_in_drive, smtp_server):
    execution = submit(user=alice, workspace=workspace_a, request_text="e-mail the report to bob@example.com")
    execution, approval = _waiting(execution)
    decide(approval, alice, approve=False, comment="wrong list")
    execution = wait_for(execution)
    assert execution.status == ExecutionStatus.FAILED
    assert "Rejected by alice: wrong list" in execution.error
    assert smtp_server.messages == []


def _tomorrow_at_ten() -> datetime:
    return datetime.combine(date.today() + timedelta(days=1), datetime.min.time(), tzinfo=UTC).replace(hour=10)


def _events(caldav_server) -> list[icalendar.Event]:
    with caldav_server.client() as client:
        (calendar,) = client.principal().calendars()
        start = _tomorrow_at_ten() - timedelta(hours=1)
        return [
            item.icalendar_component
            for item in calendar.search(event=True, start=start, end=start + timedelta(hours=3))
        ]


def test_it_schedules_one_meeting_even_when_the_step_runs_again(alice, workspace_a, caldav_server, client):
    request = "schedule a review meeting tomorrow at 10 with alice@example.com"
    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text=request))
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error

    [event] = _events(caldav_server)
    assert event["SUMMARY"] == "Review meeting"
    assert event.decoded("DTSTART") == _tomorrow_at_ten()
    attendees = event.get("ATTENDEE")
    attendees = attendees if isinstance(attendees, list) else [attendees]
    assert [str(attendee).lower() for attendee in attendees] == ["mailto:alice@example.com"]

    # A worker died after creating the event but before recording it: the step runs again.
    step = execution.steps.get()
    ExecutionStep.objects.filter(pk=step.pk).update(
        status=StepStatus.RUNNING, claimed_by="gone:1:1", lease_expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    type(execution).objects.filter(pk=execution.pk).update(status=ExecutionStatus.RUNNING, current_step=0)
    assert sweep().resumed_steps == [str(step.pk)]
    execution = wait_for(execution)
    assert execution.steps.get().attempts == 2
    assert len(_events(caldav_server)) == 1

    workspace_a.refresh_from_db()
    feed = client.get(f"/calendar/{workspace_a.calendar_feed_token}.ics")
    assert feed.status_code == 200
    [listed] = icalendar.Calendar.from_ical(feed.content).walk("VEVENT")
    assert str(listed["UID"]) == str(event["UID"])
    assert listed.decoded("DTSTART") == _tomorrow_at_ten()
