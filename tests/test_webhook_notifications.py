"""Outbound notifications: when a webhook's run finishes, its URL hears about it, signed, through the SSRF guard,
retried, and every attempt is in the history."""

from __future__ import annotations

import json
import time

import pytest
from standardwebhooks import Webhook as StandardVerifier

from orchestration.models import ExecutionStatus
from tests.support.engine import wait_for
from webhooks.models import WebhookExecution
from webhooks.services import create_webhook, fire

pytest_plugins = ["tests.support.web_servers"]

PLAN = {"steps": [{"number": 1, "tool": "test.noop", "input": {"value": {"$payload": "order"}}}]}


@pytest.fixture(autouse=True)
def embedded(engine, settings):
    # The notification is sent from the process that ends the run: here, so it shares these settings.
    settings.ORCHESTRATE_RUN_MODE = "embedded"
    settings.WEBHOOK_NOTIFY_BACKOFF = 0.1
    settings.WEBHOOK_NOTIFY_ATTEMPTS = 3


def _fired(alice, workspace, url):
    created = create_webhook(
        alice,
        workspace,
        name="Notifying",
        trigger_type="http",
        action_config={"request": "Order {{ payload.order }}", "plan": PLAN, "notify_url": url},
    )
    firing = fire(created.webhook, {"order": 7}, source="test", message_id="m1")
    assert wait_for(firing.execution).status == ExecutionStatus.SUCCEEDED
    return created, firing


def _attempts(firing, count, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        attempts = WebhookExecution.objects.get(pk=firing.pk).notifications
        if len(attempts) >= count:
            return attempts
        time.sleep(0.05)
    raise AssertionError(f"only {WebhookExecution.objects.get(pk=firing.pk).notifications} after {timeout}s")


def test_it_notifies_the_url_signed_when_the_run_finishes(alice, workspace_a, server, allowed):
    created, firing = _fired(alice, workspace_a, server.url("/echo"))

    attempts = _attempts(firing, 1)

    assert [(a["attempt"], a["status"], a["error"]) for a in attempts] == [(1, 200, "")]
    [request] = [r for r in server.requests if r.path == "/echo"]
    body = StandardVerifier(created.secret).verify(request.body, request.headers)
    assert body["type"] == "run.finished"
    assert body["data"]["execution"]["id"] == str(firing.execution_id)
    assert body["data"]["execution"]["status"] == "succeeded"
    assert request.headers["webhook-id"] == f"msg_{firing.pk}"


def test_it_retries_a_failing_url_and_keeps_every_attempt(alice, workspace_a, server, allowed):
    _, firing = _fired(alice, workspace_a, server.url("/status/503"))

    attempts = _attempts(firing, 3)
    time.sleep(0.5)  # no fourth attempt comes

    assert [a["attempt"] for a in WebhookExecution.objects.get(pk=firing.pk).notifications] == [1, 2, 3]
    assert all("503" in a["error"] for a in attempts)
    ids = {r.headers["webhook-id"] for r in server.requests}
    assert ids == {f"msg_{firing.pk}"}  # the same message id each time: the receiver can drop repeats
    assert len(server.requests) == 3


def test_it_refuses_a_private_address_and_sends_nothing(alice, workspace_a, server, web_settings):
    _, firing = _fired(alice, workspace_a, server.url("/echo"))

    attempts = _attempts(firing, 1)
    time.sleep(0.5)

    assert len(WebhookExecution.objects.get(pk=firing.pk).notifications) == 1
    assert "Refused to connect" in attempts[0]["error"]
    assert server.requests == []
    assert json.dumps(attempts)  # plain JSON the history can show
