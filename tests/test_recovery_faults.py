"""No fault stalls a run: lost services, dead processes, a dead beat, a run waiting for a person.

Faults are real: private Redis servers that are stopped and restarted
(tests/support/private_services.py, never the machine's shared one), worker
and server processes killed with SIGKILL, an `orchestrate --wait` command
left alone while a person approves from another terminal.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from orchestration.engine.recovery import SWEEPER_LOCK, sweep, sweep_as_leader
from orchestration.engine.runs import plan_execution, submit
from orchestration.models import Execution, ExecutionStatus, ExecutionStep, StepStatus
from safety.models import ApprovalStatus, PendingApproval, ResourceLock
from tests.support.engine import ROOT, database_url, wait_for
from tests.support.private_services import worker_on
from tests.support.tools import effect_count
from tools.drive import WorkspaceDrive

pytestmark = pytest.mark.django_db(transaction=True)

HOST = socket.gethostname()
REQUEST_TO_EMAIL = "send an e-mail to bob@example.com saying the build is green"


def _dead_pid() -> int:
    """The pid of a process that has just exited (on this host)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _wait_step(execution: Execution, number: int, statuses: set[str], timeout: float = 30.0) -> ExecutionStep:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        step = ExecutionStep.objects.filter(execution=execution, step_number=number).first()
        if step is not None and step.status in statuses:
            return step
        time.sleep(0.05)
    raise AssertionError(f"step {number} never reached {statuses}")


def _orphan(step: ExecutionStep, holder: str, lease_left: float) -> None:
    """Put a finished step back into the state its worker's death leaves behind."""
    ExecutionStep.objects.filter(pk=step.pk).update(
        status=StepStatus.RUNNING,
        claimed_by=holder,
        lease_expires_at=timezone.now() + timedelta(seconds=lease_left),
        output=None,
        completed_at=None,
    )
    Execution.objects.filter(pk=step.execution_id).update(current_step=0)


# Item 18 -------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("engine")
def test_it_resumes_an_orphaned_step_of_a_run_waiting_for_approval(alice, workspace_a):
    plan = {
        "steps": [
            {"number": 1, "tool": "test.critical", "input": {"label": "needs a person"}},
            {"number": 2, "tool": "test.effect", "input": {"label": "meanwhile", "seconds": 0}},
        ]
    }
    execution = submit(user=alice, workspace=workspace_a, request_text="wait and work", plan=plan)
    _wait_step(execution, 1, {StepStatus.WAITING_APPROVAL})
    other = _wait_step(execution, 2, {StepStatus.SUCCEEDED})
    _orphan(other, "gone-host:1:1", lease_left=-1)
    assert Execution.objects.get(pk=execution.pk).status == ExecutionStatus.WAITING_APPROVAL

    report = sweep()

    assert report.resumed_steps == [str(other.pk)]
    other = _wait_step(execution, 2, {StepStatus.SUCCEEDED})
    assert other.output["performed"] is False  # resumed, and the effect was not repeated
    assert effect_count(WorkspaceDrive(workspace_a.pk)) == 1
    assert Execution.objects.get(pk=execution.pk).status == ExecutionStatus.WAITING_APPROVAL


@pytest.mark.usefixtures("engine")
def test_it_sends_again_a_retry_whose_worker_died_with_its_countdown(alice, workspace_a):
    """A retry waits in its worker's memory (a countdown); the worker's death must not park the step for minutes."""
    plan = {"steps": [{"number": 1, "tool": "test.effect", "input": {"label": "retried", "seconds": 0}}]}
    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text="retry lost", plan=plan))
    step = execution.steps.get()
    long_ago = timezone.now() - timedelta(seconds=30)  # past the 5 s lease of the tests, well within 300 s
    ExecutionStep.objects.filter(pk=step.pk).update(
        status=StepStatus.PENDING, retry_at=long_ago, queued_at=long_ago, output=None, completed_at=None
    )
    Execution.objects.filter(pk=execution.pk).update(status=ExecutionStatus.RUNNING, current_step=0)

    assert sweep().resent_steps == [str(step.pk)]

    assert wait_for(execution).status == ExecutionStatus.SUCCEEDED
    assert sweep().resent_steps == []


# Item 20 -------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("engine")
def test_it_takes_back_at_once_a_step_whose_process_on_this_host_died(alice, workspace_a):
    plan = {"steps": [{"number": 1, "tool": "test.effect", "input": {"label": "dead holder", "seconds": 0}}]}
    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text="dead", plan=plan))
    step = execution.steps.get()
    _orphan(step, f"{HOST}:{os.getppid()}:1", lease_left=600)  # a live process on this host: left alone
    Execution.objects.filter(pk=execution.pk).update(status=ExecutionStatus.RUNNING)
    assert sweep().resumed_steps == []

    _orphan(step, f"{HOST}:{_dead_pid()}:1", lease_left=600)  # a dead one: its lease has long to run
    assert sweep().resumed_steps == [str(step.pk)]

    execution = wait_for(execution)
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert ExecutionStep.objects.get(pk=step.pk).attempts == 2


def _embedded_env(**extra: str) -> dict[str, str]:
    from django.conf import settings

    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "ORCHESTRATE_RUN_MODE": "embedded",
        "ORCHESTRATE_LOG_FLUSHER": "1",
        **extra,
    }
    env.pop("REDIS_URL", None)
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def spawned() -> Iterator[list[subprocess.Popen[str]]]:
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def test_it_takes_back_a_dead_embedded_servers_step_when_the_server_restarts(alice, workspace_a, settings, spawned):
    """kill -9 the process running a step; the next server resumes it at once, not after the lease."""
    settings.ORCHESTRATE_RUN_MODE = "embedded"
    env = _embedded_env(ORCHESTRATE_LEASE_SECONDS="120", ORCHESTRATE_SWEEP_SECONDS="1")
    script = (
        "from django.contrib.auth.models import User;"
        "from tenancy.models import Workspace;"
        "from orchestration.engine.runs import submit;"
        "import time;"
        "plan={'steps':[{'number':1,'tool':'test.effect','input':{'label':'long','seconds':60}}]};"
        "submit(user=User.objects.get(username='alice'),workspace=Workspace.objects.get(name='A'),"
        "request_text='long step',plan=plan);"
        "time.sleep(600)"
    )
    first = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT, env=env, text=True, start_new_session=True
    )
    spawned.append(first)
    deadline = time.monotonic() + 60
    drive = WorkspaceDrive(workspace_a.pk)
    while not (
        effect_count(drive) == 1
        and ExecutionStep.objects.filter(status=StepStatus.RUNNING, claimed_by__contains=f":{first.pid}:").exists()
    ):
        assert time.monotonic() < deadline, "the first process never ran the step"
        time.sleep(0.1)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=10)

    port = _free_port()
    started = time.monotonic()
    server = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=ROOT,
        env={**env, "ORCHESTRATE_EMBEDDED_SWEEPER": "true"},
        text=True,
        start_new_session=True,
    )
    spawned.append(server)
    step = ExecutionStep.objects.get(execution__request="long step")
    deadline = time.monotonic() + 45
    while not ExecutionStep.objects.filter(pk=step.pk, claimed_by__contains=f":{server.pid}:").exists():
        assert time.monotonic() < deadline, "the restarted server did not take the step back"
        time.sleep(0.1)

    assert time.monotonic() - started < 45  # the lease had 100 s or more to run
    assert ExecutionStep.objects.get(pk=step.pk).attempts == 2
    time.sleep(1)  # the resumed attempt looks for its effect first thing
    assert effect_count(drive) == 1


# Item 19 -------------------------------------------------------------------------------------------------


def test_it_finishes_orchestrate_wait_after_an_approval_from_another_terminal(
    alice, workspace_a, settings, smtp_server, spawned
):
    settings.ORCHESTRATE_RUN_MODE = "embedded"  # no server runs: the waiting command is the only worker
    waiting = subprocess.Popen(
        [sys.executable, "manage.py", "orchestrate", REQUEST_TO_EMAIL, "--workspace", "A", "--user", "alice", "--wait"],
        cwd=ROOT,
        env=_embedded_env(EMAIL_URL=smtp_server.url, ORCHESTRATE_SWEEP_SECONDS="0.5"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    spawned.append(waiting)
    deadline = time.monotonic() + 60
    while not PendingApproval.objects.filter(status=ApprovalStatus.PENDING).exists():
        assert waiting.poll() is None, waiting.communicate()
        assert time.monotonic() < deadline, "the run never asked for approval"
        time.sleep(0.1)
    approval = PendingApproval.objects.get()

    call_command("approvals", "approve", str(approval.pk), "--user", "alice")

    out, err = waiting.communicate(timeout=30)
    assert waiting.returncode == 0, err
    assert " succeeded" in out
    [received] = smtp_server.wait_for_messages(1)
    assert received.rcpt_tos == ["bob@example.com"]


# Item 17 -------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_lets_one_sweeper_sweep_at_a_time(settings):
    settings.ORCHESTRATE_SWEEP_SECONDS = 5
    first, second = f"{HOST}:{os.getpid()}:1", f"{HOST}:{os.getpid()}:2"

    assert sweep_as_leader(first) is not None
    assert sweep_as_leader(second) is None  # the first one's lease holds
    assert sweep_as_leader(first) is not None  # and the leader goes on

    ResourceLock.objects.filter(resource_id=SWEEPER_LOCK).update(locked_by=f"{HOST}:{_dead_pid()}:1")
    assert sweep_as_leader(second) is not None  # a dead leader on this host is replaced at once


@pytest.mark.services
def test_it_recovers_a_killed_workers_step_with_no_beat_running(alice, workspace_a, private_redis):
    """Beat is not needed: the surviving worker's own sweeper resumes the dead worker's step."""
    workers = [worker_on(private_redis, CONCURRENCY="1") for _ in range(2)]
    try:
        plan = {"steps": [{"number": 1, "tool": "test.effect", "input": {"label": "no beat", "seconds": 6}}]}
        execution = submit(user=alice, workspace=workspace_a, request_text="no beat", plan=plan)
        step = _wait_step(execution, 1, {StepStatus.RUNNING})
        doomed = next(worker for worker in workers if worker.process.pid == _parent_of(_holder_pid(step)))
        doomed.kill()  # the whole worker, main process and pool child: its message stays unacknowledged

        execution = wait_for(execution, timeout=30)

        assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
        assert execution.steps.get().attempts == 2
        assert effect_count(WorkspaceDrive(workspace_a.pk)) == 1
    finally:
        for worker in workers:
            worker.stop()


def _holder_pid(step: ExecutionStep) -> int:
    return int(step.claimed_by.split(":")[1])


def _parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rpartition(")")[2].split()[1])


# Items 14 and 15 -----------------------------------------------------------------------------------------


@pytest.mark.services
def test_it_saves_and_queues_a_run_submitted_while_redis_is_down(client, alice, workspace_a, private_redis):
    private_redis.stop()
    client.force_login(alice)

    response = client.post(reverse("orchestration:index"), {"request": "send an e-mail to bob@example.com saying hi"})

    execution = Execution.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("orchestration:execution", args=[execution.pk])
    assert execution.status == ExecutionStatus.PENDING
    page = client.get(response["Location"]).content.decode()
    assert "saved and queued" in page
    assert "Pending" in page

    private_redis.start()
    worker = worker_on(private_redis, ORCHESTRATE_LEASE_SECONDS="20")
    try:
        _wait_step(execution, 1, {StepStatus.WAITING_APPROVAL}, timeout=30)  # planned and run once Redis is back
    finally:
        worker.stop()


@pytest.mark.services
def test_it_resends_within_seconds_the_steps_a_restarted_redis_forgot(alice, workspace_a, private_redis):
    plan = {"steps": [{"number": 1, "tool": "test.effect", "input": {"label": "forgotten", "seconds": 0}}]}
    execution = submit(user=alice, workspace=workspace_a, request_text="forgotten", plan=plan)
    plan_execution(str(execution.pk))  # no worker yet: the step's message waits in Redis...
    assert ExecutionStep.objects.get(execution=execution).queued_at is not None
    private_redis.restart()  # ...which forgets it

    beat = worker_on(private_redis, "beat")
    worker = worker_on(private_redis, ORCHESTRATE_LEASE_SECONDS="20")
    try:
        execution = wait_for(execution, timeout=30)
        assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    finally:
        worker.stop()
        beat.stop()


@pytest.mark.services
def test_it_does_not_stamp_as_sent_a_step_the_broker_refused(alice, workspace_a, private_redis):
    plan = {"steps": [{"number": 1, "tool": "test.effect", "input": {"label": "unsent", "seconds": 0}}]}
    execution = submit(user=alice, workspace=workspace_a, request_text="unsent", plan=plan)
    private_redis.stop()

    plan_execution(str(execution.pk))  # the send fails after the commit: no error, and not marked sent

    step = ExecutionStep.objects.get(execution=execution)
    assert step.status == StepStatus.PENDING
    assert step.queued_at is None
    private_redis.start()
    worker = worker_on(private_redis, ORCHESTRATE_LEASE_SECONDS="20")
    try:
        started = time.monotonic()
        execution = wait_for(execution, timeout=30)
        assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
        assert time.monotonic() - started < 30
    finally:
        worker.stop()


@pytest.mark.usefixtures("engine")
def test_it_retries_a_step_that_lost_the_database_instead_of_failing_it(alice, workspace_a):
    plan = {"steps": [{"number": 1, "tool": "test.db_blip", "input": {"blips": 2}}]}
    execution = submit(user=alice, workspace=workspace_a, request_text="db blips", plan=plan)

    execution = wait_for(execution, timeout=30)

    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    step = execution.steps.get()
    assert step.output == {"calls": 3}
    assert "Unexpected error" not in step.error
