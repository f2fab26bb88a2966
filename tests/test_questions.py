"""Ask instead of fail, and the plan preview: a run that misses a detail asks its person,
the answer continues the same run; "Plan only" shows the plan and waits for "Run this plan"."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from orchestration.engine.runs import cancel, run_planned, submit
from orchestration.models import ExecutionStatus, StepStatus
from orchestration.questions import InvalidAnswer, QuestionClosed, answer_question
from tenancy.roles import Role
from tests.factories.tenancy import MemberFactory, UserFactory
from tests.support.engine import wait_for
from tools.drive import WorkspaceDrive

SALES = "region,revenue\nnorth,1200\nsouth,800\n"
ASKING = {ExecutionStatus.WAITING_INPUT, ExecutionStatus.FAILED, ExecutionStatus.SUCCEEDED}


@pytest.fixture(autouse=True)
def embedded(engine, settings):
    settings.ORCHESTRATE_RUN_MODE = "embedded"
    yield
    from orchestration.engine.embedded import runtime

    assert runtime().wait_idle(30)


@pytest.fixture
def sales_files(workspace_a):
    drive = WorkspaceDrive(workspace_a.pk)
    drive.write_text("sales_q1.csv", SALES)
    drive.write_text("sales_q2.csv", SALES.replace("1200", "1500"))
    return drive


def _asked(execution):
    execution = wait_for(execution, statuses=ASKING)
    assert execution.status == ExecutionStatus.WAITING_INPUT, execution.error
    return execution


def test_it_asks_which_files_and_continues_the_same_run_with_the_answer(alice, workspace_a, sales_files):
    execution = _asked(submit(user=alice, workspace=workspace_a, request_text="crunch the numbers and write a report"))

    assert execution.question["field"] == "files"
    assert execution.question["text"] == "Which files should I use?"
    assert execution.question["candidates"] == ["all CSV files", "sales_q1.csv", "sales_q2.csv"]
    assert execution.steps.count() == 0

    answered = answer_question(execution, alice, "sales_q1.csv, sales_q2.csv")
    assert answered.pk == execution.pk
    assert answered.status != ExecutionStatus.WAITING_INPUT  # planning again (or already further)

    done = wait_for(execution)
    assert done.status == ExecutionStatus.SUCCEEDED, done.error
    assert done.question is None
    assert done.answers == {"files": "sales_q1.csv, sales_q2.csv"}
    assert [step.tool for step in done.steps.order_by("step_number")] == ["analysis.describe", "report.compose"]
    assert done.steps.get(step_number=1).input == {"files": ["sales_q1.csv", "sales_q2.csv"]}


def test_it_asks_again_when_the_answer_does_not_do_and_changes_nothing(alice, workspace_a, sales_files):
    execution = _asked(submit(user=alice, workspace=workspace_a, request_text="summarise the data"))

    with pytest.raises(InvalidAnswer, match="No file in the drive matches"):
        answer_question(execution, alice, "marketing")
    with pytest.raises(InvalidAnswer, match="Type an answer"):
        answer_question(execution, alice, "   ")

    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.WAITING_INPUT
    assert execution.answers == {}


def test_it_asks_when_and_to_whom_one_question_at_a_time(alice, workspace_a, sales_files):
    execution = _asked(submit(user=alice, workspace=workspace_a, request_text="send the latest report"))
    assert execution.question["field"] == "to"
    assert "alice@example.com" in execution.question["candidates"]
    with pytest.raises(InvalidAnswer, match="no e-mail address"):
        answer_question(execution, alice, "my boss")

    reminder = _asked(submit(user=alice, workspace=workspace_a, request_text="remind me to call the supplier"))
    assert reminder.question["field"] == "when"
    with pytest.raises(InvalidAnswer, match="could not read a date or time"):
        answer_question(reminder, alice, "soonish")
    cancel(reminder, alice)
    cancel(execution, alice)


def test_it_lets_only_people_who_may_run_answer(alice, bob, charlie, workspace_a, sales_files):
    viewer = UserFactory(username="victor")
    MemberFactory(workspace=workspace_a, user=viewer, role=Role.VIEWER)
    execution = _asked(submit(user=alice, workspace=workspace_a, request_text="summarise the data"))

    for outsider in (charlie, viewer):
        with pytest.raises(PermissionDenied):
            answer_question(execution, outsider, "sales_q1.csv")
    answer_question(execution, bob, "sales_q1.csv")  # an operator of the workspace may
    with pytest.raises(QuestionClosed):
        answer_question(execution, alice, "sales_q2.csv")
    assert wait_for(execution).status == ExecutionStatus.SUCCEEDED


def test_it_answers_no_question_of_a_cancelled_run(alice, workspace_a, sales_files):
    execution = _asked(submit(user=alice, workspace=workspace_a, request_text="summarise the data"))
    assert cancel(execution, alice)
    with pytest.raises(QuestionClosed):
        answer_question(execution, alice, "sales_q1.csv")


def test_it_still_fails_a_request_no_tool_can_serve_naming_what_the_tools_can_do(alice, workspace_a):
    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text="make me a sandwich"))
    assert execution.status == ExecutionStatus.FAILED
    assert "Installed tools can: " in execution.error
    assert "files.search" in execution.error


def test_it_shows_the_plan_first_and_runs_exactly_it_on_request(alice, bob, charlie, workspace_a, sales_files):
    execution = submit(user=alice, workspace=workspace_a, request_text="summarise the sales CSV files", plan_only=True)
    execution = wait_for(execution, statuses={ExecutionStatus.PLANNED, ExecutionStatus.FAILED})
    assert execution.status == ExecutionStatus.PLANNED, execution.error
    steps = list(execution.steps.order_by("step_number"))
    assert [step.tool for step in steps] == ["drive.search", "analysis.describe"]
    assert {step.status for step in steps} == {StepStatus.PENDING}

    with pytest.raises(PermissionDenied):
        run_planned(execution, charlie)
    assert run_planned(execution, bob)
    assert not run_planned(execution, alice)  # started once
    done = wait_for(execution)
    assert done.status == ExecutionStatus.SUCCEEDED, done.error
    assert [step.tool for step in done.steps.order_by("step_number")] == ["drive.search", "analysis.describe"]


def test_it_answers_from_the_execution_page_and_refuses_outsiders(alice, charlie, workspace_a, sales_files, client):
    execution = _asked(submit(user=alice, workspace=workspace_a, request_text="summarise the data"))
    client.force_login(alice)
    page = client.get(f"/orchestrate/executions/{execution.pk}/").content.decode()
    assert "Which files should I use?" in page
    assert 'value="sales_q1.csv"' in page

    wrong = client.post(f"/orchestrate/executions/{execution.pk}/answer", {"answer": "marketing"}, follow=True)
    assert "No file in the drive matches" in wrong.content.decode()
    client.force_login(charlie)
    assert client.post(f"/orchestrate/executions/{execution.pk}/answer", {"answer": "sales_q1.csv"}).status_code == 404
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.WAITING_INPUT

    client.force_login(alice)
    answered = client.post(f"/orchestrate/executions/{execution.pk}/answer", {"answer": "sales_q1.csv"})
    assert answered.status_code == 302
    assert wait_for(execution).status == ExecutionStatus.SUCCEEDED
