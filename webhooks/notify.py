"""Outbound notifications: when a run a webhook started finishes, POST its outcome to the webhook's notify_url.

Signed like inbound requests (Standard Webhooks, the webhook's current
secret; the same `webhook-id` on every attempt so the receiver can drop
duplicates), sent through the SSRF guard of the web tools, retried with
exponential backoff, and every attempt is kept on the firing's history row.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from functools import partial
from typing import Any

from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone

from orchestration.models import Execution
from orchestration.signals import FinishedRun
from tools.base import ToolError, ToolInputError
from tools.http import fetch
from webhooks import signing
from webhooks.models import WebhookExecution

logger = logging.getLogger(__name__)
MAX_ANSWER_BYTES = 64 * 1024


def on_run_finished(sender: object, run: FinishedRun, **kwargs: Any) -> None:
    """Receiver of `run_finished`: after the run's end commits, notify for each of its firings that wants it."""
    firings = WebhookExecution.objects.filter(
        execution_id=run.execution_id, webhook__action_config__has_key="notify_url"
    ).values_list("pk", flat=True)
    for firing_id in firings:
        transaction.on_commit(partial(schedule, firing_id, attempt=1, delay=0.0))


def schedule(firing_id: uuid.UUID, *, attempt: int, delay: float) -> None:
    if settings.ORCHESTRATE_RUN_MODE == "celery":
        from webhooks.tasks import notify

        notify.apply_async(args=(str(firing_id), attempt), countdown=delay)
        return

    def run() -> None:
        try:
            deliver(firing_id, attempt)
        finally:
            close_old_connections()

    timer = threading.Timer(delay, run)
    timer.daemon = True
    timer.start()


def payload_of(firing: WebhookExecution, execution: Execution) -> dict[str, Any]:
    summary = (execution.result or {}).get("summary", "") if isinstance(execution.result, dict) else ""
    return {
        "type": "run.finished",
        "timestamp": timezone.now().isoformat(),
        "data": {
            "webhook": {"id": str(firing.webhook_id), "name": firing.webhook.name},
            "firing": str(firing.pk),
            "execution": {
                "id": str(execution.pk),
                "status": execution.status,
                "request": execution.request,
                "error": execution.error,
                "summary": summary,
                "completed_at": execution.completed_at.isoformat() if execution.completed_at else None,
            },
        },
    }


def deliver(firing_id: uuid.UUID | str, attempt: int) -> bool:
    """One attempt; schedules the next after a failure until WEBHOOK_NOTIFY_ATTEMPTS. True when delivered."""
    firing = WebhookExecution.objects.select_related("webhook", "execution").filter(pk=firing_id).first()
    if firing is None or firing.execution is None:
        return False
    url = firing.webhook.action_config.get("notify_url")
    secret = signing.decrypt(firing.webhook.secret_encrypted, workspace_id=firing.webhook.workspace_id)
    if not url or not secret:
        return False
    body = json.dumps(payload_of(firing, firing.execution)).encode()
    message_id = f"msg_{firing.pk}"
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.sign(secret, message_id, timestamp, body),
    }
    status: int | None = None
    retry = True
    try:
        response = fetch(
            "POST",
            url,
            headers=headers,
            body=body,
            timeout=settings.WEB_TIMEOUT,
            max_bytes=MAX_ANSWER_BYTES,
            max_redirects=0,
        )
        status = response.status
        error = "" if 200 <= status < 300 else f"HTTP {status}"
    except ToolInputError as exc:  # a refused or malformed address will not get better by waiting
        error, retry = str(exc), False
    except ToolError as exc:
        error = str(exc)
    delivered = not error
    attempts = [
        *firing.notifications,
        {"attempt": attempt, "at": timezone.now().isoformat(), "status": status, "error": error[:500]},
    ]
    WebhookExecution.objects.filter(pk=firing.pk).update(notifications=attempts)
    if not delivered:
        logger.warning("Webhook %s: notification attempt %d failed: %s", firing.webhook.name, attempt, error)
        if retry and attempt < settings.WEBHOOK_NOTIFY_ATTEMPTS:
            schedule(firing.pk, attempt=attempt + 1, delay=settings.WEBHOOK_NOTIFY_BACKOFF * 2 ** (attempt - 1))
    return delivered
