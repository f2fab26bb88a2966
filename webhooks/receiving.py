"""An inbound request to /hooks/<public id>/: checked, then fired or refused.

Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`
(HMAC-SHA256 over "id.timestamp.body"). GitHub's `X-Hub-Signature-256` with
`X-GitHub-Delivery` as the message id is accepted too (GitHub signs no
timestamp, so only the delivery id guards against replays there).
Every refusal of a known webhook is recorded in its history, without the body.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from django.conf import settings

from webhooks import signing
from webhooks.actions import JSON
from webhooks.models import FiringSource, TriggerType, Webhook, WebhookExecution
from webhooks.services import Replayed, fire, record_refusal, valid_secrets

# Headers worth keeping with a refusal: none of them is a secret or the body.
_KEPT_HEADERS = ("webhook-id", "webhook-timestamp", "x-github-delivery", "content-type", "content-length")


@dataclass(frozen=True)
class Reception:
    status: int
    reason: str
    firing: WebhookExecution | None = None


def receive(
    public_id: str, body: bytes | None, headers: Mapping[str, str], *, source: str = FiringSource.HTTP
) -> Reception:
    """The answer to one inbound request (headers with lower-case names; body None when too large to read)."""
    webhook = (
        Webhook.objects.select_related("user", "workspace")
        .filter(public_id=public_id, trigger_type=TriggerType.HTTP)
        .first()
    )
    if webhook is None:
        return Reception(404, "No such webhook.")
    details: dict[str, Any] = {name: headers[name][:200] for name in _KEPT_HEADERS if name in headers}

    def refuse(status: int, reason: str) -> Reception:
        return Reception(status, reason, record_refusal(webhook, status_code=status, reason=reason, details=details))

    if not webhook.enabled:
        return refuse(403, "This webhook is disabled.")
    if body is None or len(body) > settings.WEBHOOK_MAX_BODY_BYTES:
        return refuse(413, f"The body is larger than {settings.WEBHOOK_MAX_BODY_BYTES} bytes.")
    secrets = valid_secrets(webhook)
    if "x-hub-signature-256" in headers and "webhook-signature" not in headers:
        message_id = headers.get("x-github-delivery", "").strip()
        if not message_id:
            return refuse(400, "Missing the X-GitHub-Delivery header.")
        if not signing.github_signature_matches(secrets, body, headers["x-hub-signature-256"]):
            return refuse(401, "The signature does not match.")
    else:
        message_id = headers.get("webhook-id", "").strip()
        missing = [name for name in ("webhook-id", "webhook-timestamp", "webhook-signature") if not headers.get(name)]
        if missing:
            return refuse(400, f"Missing the {', '.join(missing)} header{'s' if len(missing) > 1 else ''}.")
        raw_timestamp = headers["webhook-timestamp"].strip()
        if not raw_timestamp.isdigit():
            return refuse(400, "webhook-timestamp must be whole seconds since the epoch.")
        timestamp = int(raw_timestamp)
        skew = timestamp - time.time()
        if skew < -settings.WEBHOOK_TOLERANCE_SECONDS:
            return refuse(401, "The timestamp is too old.")
        if skew > settings.WEBHOOK_TOLERANCE_SECONDS:
            return refuse(401, "The timestamp is in the future.")
        if not signing.signature_matches(secrets, message_id, timestamp, body, headers["webhook-signature"]):
            return refuse(401, "The signature does not match.")
    if len(message_id) > 200:
        return refuse(400, "The message id is longer than 200 characters.")
    try:
        payload = parse_body(body, headers.get("content-type", ""))
    except ValueError as exc:
        return refuse(400, str(exc))
    try:
        firing = fire(webhook, payload, source=source, message_id=message_id)
    except Replayed:
        return refuse(409, "This webhook-id was already received (a replay).")
    status = 202 if firing.success else 422
    firing.status_code = status
    firing.save(update_fields=["status_code"])
    return Reception(status, "Accepted." if firing.success else firing.error, firing)


def parse_body(body: bytes, content_type: str) -> JSON:
    """A JSON or form body as data; an empty body is an empty object."""
    kind = content_type.split(";")[0].strip().lower()
    if not body.strip():
        return {}
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("The body is not UTF-8 text.") from None
    if kind == "application/x-www-form-urlencoded":
        fields = parse_qs(text, keep_blank_values=True)
        return {key: values[0] if len(values) == 1 else values for key, values in fields.items()}
    if kind in ("", "application/json", "text/plain") or kind.endswith("+json"):
        try:
            parsed: JSON = json.loads(text)
            return parsed
        except json.JSONDecodeError as exc:
            raise ValueError(f"The body is not valid JSON ({exc.msg} at line {exc.lineno}).") from None
        except RecursionError:
            raise ValueError("The body's JSON is nested too deeply.") from None
    raise ValueError(f"Send JSON or a form, not {kind}.")
