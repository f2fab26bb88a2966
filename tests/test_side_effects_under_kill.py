"""Each side-effecting tool keeps the guarantee docs/reliability.md states, when its worker is killed mid-effect.

The servers on the other end (SMTP, HTTP) kill -9 the Celery pool child that
talks to them at the worst moment: after they received the effect and
before they answered. The worker starts a new child, the broker gives the
step back, and the resumed step must not repeat what the first attempt did
(e-mail: exactly once), or must repeat it under the same idempotency key
(web.post: at least once, one key), or must land on the same object
(calendar.create_event: one event, whose UID comes from the step).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from orchestration.engine.runs import submit
from orchestration.models import ExecutionStatus
from safety.approvals import decide
from safety.models import ApprovalStatus, PendingApproval
from tests.support.engine import CeleryProcess, wait_for
from tests.support.private_services import PrivateRedis, worker_on
from tests.support.web_servers import LocalServer, Recorded

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def _pool_children(worker: CeleryProcess) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if parent == worker.process.pid:
                children.append(int(entry.name))
    return children


class KillOnce:
    """Kill the worker's pool child (there is one: concurrency 1) the first time it is called."""

    def __init__(self, worker: CeleryProcess) -> None:
        self.worker = worker
        self.killed: list[int] = []

    def __call__(self, *args: object) -> None:
        if not self.killed:
            for pid in _pool_children(self.worker):
                os.kill(pid, signal.SIGKILL)
                self.killed.append(pid)


def _approve_when_asked(user, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        approval = PendingApproval.objects.filter(status=ApprovalStatus.PENDING).first()
        if approval is not None:
            decide(approval, user, approve=True)
            return
        time.sleep(0.05)
    raise AssertionError("the step never asked for approval")


def _email_plan() -> dict:
    return {
        "steps": [
            {
                "number": 1,
                "tool": "email.send",
                "input": {"to": ["boss@example.com"], "subject": "Quarterly figures", "body": "Attached soon.\n"},
            }
        ]
    }


@pytest.fixture
def mail_worker(private_redis: PrivateRedis, smtp_server):
    worker = worker_on(private_redis, CONCURRENCY="1", EMAIL_URL=smtp_server.url)
    yield worker
    worker.stop()


def test_it_sends_an_email_once_when_the_worker_dies_after_the_server_took_it(
    alice, workspace_a, smtp_server, mail_worker
):
    kill = KillOnce(mail_worker)
    smtp_server.before_reply = kill  # the server has the message; the sender never hears "250"
    execution = submit(user=alice, workspace=workspace_a, request_text="mail the boss", plan=_email_plan())
    _approve_when_asked(alice)

    execution = wait_for(execution, timeout=60)

    assert kill.killed, "the worker was never killed"
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    step = execution.steps.get()
    assert step.attempts == 2
    assert len(smtp_server.messages) == 1
    assert step.output["already_sent"] is True
    assert step.output["delivery"] == "unconfirmed"  # the person is told the first attempt's reply was not heard


def test_it_sends_an_email_once_when_the_worker_dies_before_handing_it_over(
    alice, workspace_a, smtp_server, mail_worker
):
    kill = KillOnce(mail_worker)
    smtp_server.at_rcpt = kill  # nothing was handed over yet
    execution = submit(user=alice, workspace=workspace_a, request_text="mail the boss", plan=_email_plan())
    _approve_when_asked(alice)

    execution = wait_for(execution, timeout=60)

    assert kill.killed, "the worker was never killed"
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    assert len(smtp_server.messages) == 1
    [received] = smtp_server.messages
    assert received.rcpt_tos == ["boss@example.com"]
    assert execution.steps.get().output["already_sent"] is False


def test_it_repeats_a_web_post_under_the_same_idempotency_key_when_the_worker_dies(alice, workspace_a, private_redis):
    server = LocalServer()
    worker = worker_on(private_redis, CONCURRENCY="1", WEB_ALLOWED_HOSTS="127.0.0.1")
    try:
        kill = KillOnce(worker)

        def kill_on_first_post(recorded: Recorded) -> None:
            if recorded.method == "POST":
                kill()

        server.before_answer = kill_on_first_post
        plan = {"steps": [{"number": 1, "tool": "web.post", "input": {"url": server.url("/echo"), "json": {"n": 1}}}]}
        execution = submit(user=alice, workspace=workspace_a, request_text="post it", plan=plan)
        _approve_when_asked(alice)

        execution = wait_for(execution, timeout=60)

        assert kill.killed, "the worker was never killed"
        assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
        posts = [request for request in server.requests if request.method == "POST"]
        assert len(posts) == 2  # at least once: the server got it twice...
        keys = {request.headers["idempotency-key"] for request in posts}
        assert keys == {f"{execution.pk}:1"}  # ...under one key, so it can drop the repeat
    finally:
        worker.stop()
        server.stop()


def test_it_keeps_one_calendar_event_when_the_worker_dies_after_the_server_stored_it(
    alice, workspace_a, private_redis, caldav_server, monkeypatch
):
    from radicale.app.put import ApplicationPartPut

    worker = worker_on(
        private_redis,
        CONCURRENCY="1",
        CALDAV_URL=caldav_server.url,
        CALDAV_USERNAME=caldav_server.username,
        CALDAV_PASSWORD=caldav_server.password,
        WEB_ALLOWED_HOSTS="127.0.0.1",
    )
    try:
        kill = KillOnce(worker)
        store = ApplicationPartPut.do_PUT

        def store_then_kill(self, environ, base_prefix, path, *args, **kwargs):
            answer = store(self, environ, base_prefix, path, *args, **kwargs)
            if path.endswith(".ics"):
                kill()  # the event is stored; the worker never hears so
            return answer

        monkeypatch.setattr(ApplicationPartPut, "do_PUT", store_then_kill)
        start = (timezone.now() + timedelta(days=1)).replace(microsecond=0).isoformat()
        plan = {
            "steps": [{"number": 1, "tool": "calendar.create_event", "input": {"summary": "Review", "start": start}}]
        }
        execution = submit(user=alice, workspace=workspace_a, request_text="book it", plan=plan)
        with contextlib.suppress(AssertionError):
            _approve_when_asked(alice, timeout=5)  # only if this installation asks for calendar writes

        execution = wait_for(execution, timeout=60)

        assert kill.killed, "the worker was never killed"
        assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
        with caldav_server.client() as client:
            events = [event for calendar in client.principal().calendars() for event in calendar.events()]
        assert len(events) == 1
        assert str(events[0].icalendar_component["uid"]) == execution.steps.get().output["uid"]
    finally:
        worker.stop()
