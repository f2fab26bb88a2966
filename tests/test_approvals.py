"""Critical actions wait for a person: approve runs them once, reject stops them, nobody deciding expires them."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from orchestration.engine.recovery import sweep
from orchestration.engine.runs import cancel
from orchestration.models import ExecutionStatus, StepStatus
from safety.approvals import AlreadyDecided, decide
from safety.models import ApprovalStatus, PendingApproval
from tenancy.models import WorkspacePermission
from tests.factories.tenancy import MemberFactory, UserFactory
from tests.support.engine import wait_for
from tests.support.runs import approval_of, critical_run
from tests.support.tools import effect_count
from tools.drive import WorkspaceDrive

pytestmark = pytest.mark.usefixtures("engine")


def _critical_run(user, workspace, *, optional=False, secret=False):
    execution, _ = critical_run(user, workspace, optional=optional, secret=secret)
    return execution


def test_it_holds_a_critical_action_until_approved_then_runs_it_once(alice, workspace_a):
    execution = _critical_run(alice, workspace_a)
    approval = approval_of(execution)
    step = execution.steps.get(step_number=1)

    assert step.status == StepStatus.WAITING_APPROVAL
    assert step.waiting_for.startswith("approval by a person")
    assert step.attempts == 0
    assert approval.action_type == "test.critical"
    assert approval.estimated_impact == {"action": "append a line", "items": 1, "label": "send"}
    assert "critical action" in approval.reason
    assert effect_count(WorkspaceDrive(workspace_a.pk)) == 0

    decide(approval, alice, approve=True, comment="fine")
    execution = wait_for(execution)

    assert execution.status == ExecutionStatus.SUCCEEDED
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.APPROVED
    assert approval.resolved_by == alice
    assert approval.resolved_at is not None
    assert effect_count(WorkspaceDrive(workspace_a.pk)) == 1
    assert execution.steps.get(step_number=1).attempts == 1


def test_it_fails_a_rejected_action_with_the_reason(alice, workspace_a):
    execution = _critical_run(alice, workspace_a)
    decide(approval_of(execution), alice, approve=False, comment="not today")
    execution = wait_for(execution)
    step = execution.steps.get(step_number=1)
    assert execution.status == ExecutionStatus.FAILED
    assert step.status == StepStatus.FAILED
    assert step.error == "Rejected by alice: not today"
    assert effect_count(WorkspaceDrive(workspace_a.pk)) == 0


def test_it_skips_a_rejected_optional_action_and_goes_on(alice, workspace_a):
    execution = _critical_run(alice, workspace_a, optional=True)
    decide(approval_of(execution), alice, approve=False)
    execution = wait_for(execution)
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert execution.steps.get(step_number=1).status == StepStatus.SKIPPED
    assert execution.steps.get(step_number=2).status == StepStatus.SUCCEEDED


def test_it_redacts_secrets_in_what_it_shows_the_approver(alice, workspace_a):
    approval = approval_of(_critical_run(alice, workspace_a, secret=True))
    assert approval.action_data == {"label": "send", "api_key": "[redacted]"}


def test_it_lets_one_of_two_people_deciding_at_once_win(alice, workspace_a):
    second_owner = UserFactory.create(username="olga")
    MemberFactory.create(workspace=workspace_a, user=second_owner, role="owner")
    approval = approval_of(_critical_run(alice, workspace_a))
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def decide_as(person, approve):
        try:
            barrier.wait()
            decide(PendingApproval.objects.get(pk=approval.pk), person, approve=approve)
            outcomes[person.username] = "won"
        except AlreadyDecided as exc:
            outcomes[person.username] = str(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=decide_as, args=args) for args in [(alice, True), (second_owner, False)]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes.values())[-1] == "won"
    loser = next(message for message in outcomes.values() if message != "won")
    assert loser.startswith("This request was already")
    wait_for(approval.execution)


def test_it_lets_only_approvers_decide(victor, alice, bob, charlie, workspace_a):
    approval = approval_of(_critical_run(alice, workspace_a))
    for person in (victor, bob, charlie):  # viewer, operator, outsider
        with pytest.raises(PermissionDenied):
            decide(approval, person, approve=True)
    WorkspacePermission.objects.create(
        workspace=workspace_a, user=bob, resource_type="tool", resource_id="test.critical", permissions=["approve"]
    )
    decide(approval, bob, approve=True)
    assert wait_for(approval.execution).status == ExecutionStatus.SUCCEEDED


def test_it_expires_an_approval_nobody_decided(alice, workspace_a):
    execution = _critical_run(alice, workspace_a)
    PendingApproval.objects.filter(execution=execution).update(expires_at=timezone.now() - timedelta(seconds=1))
    report = sweep()
    execution = wait_for(execution)
    assert len(report.expired_approvals) == 1
    assert execution.status == ExecutionStatus.FAILED
    assert "expired" in execution.steps.get(step_number=1).error


def test_it_withdraws_the_approvals_of_a_cancelled_run(alice, workspace_a):
    execution = _critical_run(alice, workspace_a)
    approval = approval_of(execution)
    cancel(execution, alice)
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.EXPIRED
    with pytest.raises(AlreadyDecided):
        decide(approval, alice, approve=True)


def test_it_decides_from_the_command_line(alice, bob, workspace_a, capsys):
    execution = _critical_run(alice, workspace_a)
    approval = approval_of(execution)
    call_command("approvals", "list", user="alice")
    listed = capsys.readouterr().out
    assert str(approval.pk) in listed
    assert '    input: {"label": "send"}' in listed  # exactly what runs, as the page shows it
    assert f"    digest: {approval.input_digest}" in listed
    with pytest.raises(CommandError, match="may not approve"):
        call_command("approvals", "approve", str(approval.pk), user="bob")
    with pytest.raises(CommandError, match="No approval nonsense"):
        call_command("approvals", "approve", "nonsense", user="alice")
    call_command("approvals", "reject", str(approval.pk), user="alice", reason="wrong recipient")
    assert f"{approval.pk} rejected by alice" in capsys.readouterr().out
    with pytest.raises(CommandError, match="already rejected by alice"):
        call_command("approvals", "approve", str(approval.pk), user="alice")
    # The command only decides; the process that runs steps (here the test's) picks the run up.
    sweep()
    assert wait_for(execution).steps.get(step_number=1).error == "Rejected by alice: wrong recipient"
