"""Signed inbound webhooks: requests signed by the `standardwebhooks` package (and GitHub-style) start runs;
every bad one is refused, starts nothing, and is in the history."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook as StandardSigner

from orchestration.models import Execution, ExecutionStatus, StepStatus
from safety.models import PendingApproval
from tests.support.engine import wait_for
from webhooks.models import WebhookExecution
from webhooks.services import create_webhook, rotate_secret


@pytest.fixture
def hook(alice, workspace_a):
    return create_webhook(
        alice,
        workspace_a,
        name="New order",
        trigger_type="http",
        action_config={"request": "Summarise the order of {{ payload.customer.name }}"},
    )


def _post(client, webhook, body: bytes, headers: dict[str, str], content_type="application/json"):
    return client.post(f"/hooks/{webhook.public_id}/", data=body, content_type=content_type, headers=headers)


def _signed(secret: str, body: bytes, *, msg_id: str | None = None, when: datetime | None = None) -> dict[str, str]:
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    when = when or datetime.now(tz=UTC)
    signature = StandardSigner(secret).sign(msg_id, when, body.decode())
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(when.timestamp())), "webhook-signature": signature}


BODY = json.dumps({"customer": {"name": "Ada Lovelace"}, "total": 42}).encode()


def test_it_starts_a_run_for_a_request_signed_by_the_standard_library(client, hook):
    response = _post(client, hook.webhook, BODY, _signed(hook.secret, BODY))

    assert response.status_code == 202, response.content
    execution = Execution.objects.get(pk=response.json()["execution"])
    assert execution.request == "Summarise the order of Ada Lovelace"
    assert execution.user.username == "alice"
    assert execution.workspace == hook.webhook.workspace
    firing = WebhookExecution.objects.get()
    assert firing.success is True
    assert firing.execution == execution
    assert firing.trigger_payload == {"customer": {"name": "Ada Lovelace"}, "total": 42}
    assert firing.status_code == 202
    assert list(execution.webhook_firings.all()) == [firing]


def test_it_shows_the_secret_once_as_whsec_and_stores_it_encrypted(hook):
    assert hook.secret.startswith("whsec_")
    stored = type(hook.webhook).objects.get(pk=hook.webhook.pk)
    assert hook.secret not in stored.secret_encrypted
    assert hook.secret.removeprefix("whsec_") not in json.dumps(stored.trigger_config)


def _refused(client, hook, body, headers, status, reason, content_type="application/json"):
    response = _post(client, hook.webhook, body, headers, content_type=content_type)
    assert response.status_code == status, response.content
    assert reason in response.json()["detail"]
    assert not Execution.objects.exists()
    firing = WebhookExecution.objects.get()
    assert firing.success is False
    assert firing.status_code == status
    assert reason in firing.error
    assert "customer" not in json.dumps(firing.trigger_payload)
    return firing


def test_it_refuses_a_tampered_body(client, hook):
    headers = _signed(hook.secret, BODY)
    _refused(client, hook, BODY.replace(b"42", b"43"), headers, 401, "signature does not match")


def test_it_refuses_a_signature_made_with_another_secret(client, hook):
    other = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    _refused(client, hook, BODY, _signed(other, BODY), 401, "signature does not match")


def test_it_refuses_a_stale_timestamp(client, hook):
    old = datetime.now(tz=UTC) - timedelta(minutes=6)
    _refused(client, hook, BODY, _signed(hook.secret, BODY, when=old), 401, "too old")


def test_it_refuses_a_timestamp_from_the_future(client, hook):
    ahead = datetime.now(tz=UTC) + timedelta(minutes=6)
    _refused(client, hook, BODY, _signed(hook.secret, BODY, when=ahead), 401, "in the future")


@pytest.mark.parametrize("dropped", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_it_refuses_a_request_missing_a_header(client, hook, dropped):
    headers = _signed(hook.secret, BODY)
    del headers[dropped]
    firing = _refused(client, hook, BODY, headers, 400, f"Missing the {dropped} header")
    assert dropped not in firing.trigger_payload["refused"]


def test_it_refuses_an_oversize_body_unread(client, hook, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 2048
    big = json.dumps({"customer": {"name": "x" * 5000}}).encode()
    _refused(client, hook, big, _signed(hook.secret, big), 413, "larger than 2048 bytes")


def test_it_refuses_a_replayed_message_and_keeps_the_first_run(client, hook):
    headers = _signed(hook.secret, BODY)
    first = _post(client, hook.webhook, BODY, headers)
    assert first.status_code == 202

    again = _post(client, hook.webhook, BODY, headers)

    assert again.status_code == 409
    assert "replay" in again.json()["detail"]
    assert Execution.objects.count() == 1
    assert list(WebhookExecution.objects.order_by("triggered_at").values_list("status_code", "success")) == [
        (202, True),
        (409, False),
    ]


def test_it_refuses_a_signed_body_that_is_not_json(client, hook):
    body = b"{not json"
    response = _post(client, hook.webhook, body, _signed(hook.secret, body))
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["detail"]
    assert not Execution.objects.exists()


def test_it_accepts_a_signed_form_body(client, hook):
    body = b"customer.name=ignored&total=3"
    hook.webhook.action_config = {"request": "Form total {{ payload.total }}"}
    hook.webhook.save()
    response = _post(client, hook.webhook, body, _signed(hook.secret, body), "application/x-www-form-urlencoded")
    assert response.status_code == 202
    assert Execution.objects.get().request == "Form total 3"


def test_it_answers_404_for_an_unknown_hook_and_records_nothing(client, hook):
    response = client.post("/hooks/not-a-hook/", data=BODY, content_type="application/json")
    assert response.status_code == 404
    assert not WebhookExecution.objects.exists()


def test_it_refuses_a_disabled_hook(client, hook):
    hook.webhook.enabled = False
    hook.webhook.save()
    _refused(client, hook, BODY, _signed(hook.secret, BODY), 403, "disabled")


def test_it_accepts_the_old_and_the_new_secret_while_a_rotation_settles(client, hook, alice, settings):
    new = rotate_secret(hook.webhook, alice)
    hook.webhook.refresh_from_db()
    # A sender mid-rotation signs with both: "v1,<old> v1,<new>" — and each alone works during the overlap.
    headers = _signed(new, BODY)
    headers["webhook-signature"] = (
        _signed(hook.secret, BODY, msg_id=headers["webhook-id"], when=None)["webhook-signature"]
        + " "
        + headers["webhook-signature"]
    )
    assert _post(client, hook.webhook, BODY, headers).status_code == 202
    assert _post(client, hook.webhook, BODY, _signed(hook.secret, BODY)).status_code == 202
    assert _post(client, hook.webhook, BODY, _signed(new, BODY)).status_code == 202

    settings.WEBHOOK_ROTATION_OVERLAP_SECONDS = 0
    rotate_secret(hook.webhook, alice)
    assert _post(client, hook.webhook, BODY, _signed(new, BODY)).status_code == 401


def test_it_accepts_a_github_style_signature(client, hook):
    signature = "sha256=" + hmac.new(hook.secret.encode(), BODY, hashlib.sha256).hexdigest()
    headers = {"X-Hub-Signature-256": signature, "X-GitHub-Delivery": str(uuid.uuid4())}
    response = _post(client, hook.webhook, BODY, headers)
    assert response.status_code == 202, response.content
    assert _post(client, hook.webhook, BODY, headers).status_code == 409  # same delivery id


def test_it_refuses_a_github_style_signature_over_another_body(client, hook):
    signature = "sha256=" + hmac.new(hook.secret.encode(), BODY, hashlib.sha256).hexdigest()
    headers = {"X-Hub-Signature-256": signature, "X-GitHub-Delivery": str(uuid.uuid4())}
    _refused(client, hook, BODY + b" ", headers, 401, "signature does not match")


@pytest.mark.usefixtures("engine")
def test_it_never_bypasses_approval(client, alice, workspace_a):
    plan = {"steps": [{"number": 1, "tool": "test.critical", "input": {"label": {"$payload": "label"}}}]}
    hook = create_webhook(alice, workspace_a, name="Critical", trigger_type="http", action_config={"plan": plan})
    body = json.dumps({"label": "from the hook"}).encode()

    response = _post(client, hook.webhook, body, _signed(hook.secret, body))

    assert response.status_code == 202
    execution = wait_for(response.json()["execution"], statuses={ExecutionStatus.WAITING_APPROVAL})
    step = execution.steps.get()
    assert step.status == StepStatus.WAITING_APPROVAL
    assert step.input == {"label": "from the hook"}
    deadline = time.monotonic() + 10
    while not PendingApproval.objects.filter(execution=execution).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert PendingApproval.objects.get(execution=execution).status == "pending"
