"""Managing webhooks and firing them: the one place both the console and the API call.

Who may do what: members see a workspace's webhooks; operators (whoever may
run requests) create webhooks and manage their own; owners and admins (the
manage_settings action, or a grant on the webhook) manage every one.
A firing submits a run as the webhook's user through `runs.submit`, so the
run passes every gate a person's run does: a webhook never bypasses approval.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from croniter import croniter
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from orchestration.engine.runs import submit
from orchestration.models import Execution
from tenancy.access import may, scope
from tenancy.models import Workspace
from tenancy.roles import Action, ResourceType
from webhooks import signing
from webhooks.actions import JSON, ConfigInvalid, clean_action_config, clean_trigger_config, fill_plan, render_request
from webhooks.models import FiringSource, TriggerType, Webhook, WebhookExecution

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    AnyUser = AbstractBaseUser | AnonymousUser

logger = logging.getLogger(__name__)


def taken(workspace_name: str | None, name: str) -> str:
    """The error for a webhook name already in use in the workspace."""
    if workspace_name is None:
        return gettext("This workspace already has a webhook named %(name)r.") % {"name": name}
    return gettext("%(workspace)s already has a webhook named %(name)r.") % {"workspace": workspace_name, "name": name}


def visible_webhooks(user: AnyUser) -> QuerySet[Webhook]:
    return scope(Webhook.objects.select_related("workspace", "user"), user)


def may_create(user: AnyUser, workspace: Workspace) -> bool:
    return may(user, Action.RUN, workspace)


def may_manage(user: AnyUser, webhook: Webhook) -> bool:
    if may(user, Action.MANAGE_SETTINGS, webhook.workspace, ResourceType.WEBHOOK, str(webhook.pk)):
        return True
    return webhook.user_id == user.pk and may(user, Action.RUN, webhook.workspace)


def _require_manage(user: AnyUser, webhook: Webhook) -> None:
    if not may_manage(user, webhook):
        raise PermissionDenied(_("Only the webhook's creator, workspace owners and admins may change it."))


def next_slot_after(webhook: Webhook, moment: datetime) -> datetime | None:
    if webhook.trigger_type != TriggerType.CRON:
        return None
    config = webhook.trigger_config
    local = moment.astimezone(ZoneInfo(config.get("timezone") or "UTC"))
    return croniter(config["cron"], local).get_next(datetime).astimezone(ZoneInfo("UTC"))


@dataclass(frozen=True)
class Created:
    webhook: Webhook
    secret: str  # shown once, never stored in clear


def create_webhook(
    user: AnyUser,
    workspace: Workspace,
    *,
    name: str,
    trigger_type: str,
    trigger_config: Any = None,
    action_config: Any = None,
    enabled: bool = True,
) -> Created:
    """A new webhook run as `user`, with its secret (the only time it is shown)."""
    if not may_create(user, workspace):
        raise PermissionDenied(
            _("You may not create webhooks in %(name)s: viewers can only look.") % {"name": workspace.name}
        )
    if trigger_type not in TriggerType.values:
        raise ConfigInvalid(
            gettext("The trigger type must be one of %(types)s.") % {"types": ", ".join(TriggerType.values)}
        )
    name = (name or "").strip()
    if not name:
        raise ConfigInvalid(gettext("Give the webhook a name."))
    if Webhook.objects.filter(workspace=workspace, name=name).exists():
        raise ConfigInvalid(taken(workspace.name, name))
    if user.pk is None:
        raise PermissionDenied(_("Sign in to create webhooks."))
    secret = signing.new_secret()
    webhook = Webhook(
        user_id=user.pk,
        workspace=workspace,
        name=name[:100],
        trigger_type=trigger_type,
        trigger_config=clean_trigger_config(trigger_type, trigger_config),
        action_config=clean_action_config(action_config or {}, workspace.pk),
        enabled=enabled,
        secret_encrypted=signing.encrypt(secret, workspace_id=workspace.pk),
    )
    webhook.next_run_at = next_slot_after(webhook, timezone.now())
    try:
        with transaction.atomic():
            webhook.save()
    except IntegrityError:
        raise ConfigInvalid(taken(workspace.name, name)) from None
    logger.info("Webhook %s created by %s in %s", webhook.name, user, workspace.name)
    return Created(webhook=webhook, secret=secret)


def update_webhook(
    webhook: Webhook,
    user: AnyUser,
    *,
    name: str | None = None,
    trigger_config: Any = None,
    action_config: Any = None,
    enabled: bool | None = None,
) -> Webhook:
    """Change what is given; a new schedule or re-enabling starts from the next slot (nothing is replayed)."""
    _require_manage(user, webhook)
    changed: list[str] = []
    reschedule = False
    if name is not None and name.strip() != webhook.name:
        name = name.strip()
        if not name:
            raise ConfigInvalid(gettext("Give the webhook a name."))
        if Webhook.objects.filter(workspace_id=webhook.workspace_id, name=name).exclude(pk=webhook.pk).exists():
            raise ConfigInvalid(taken(None, name))
        webhook.name = name[:100]
        changed.append("name")
    if trigger_config is not None:
        cleaned = clean_trigger_config(webhook.trigger_type, trigger_config)
        reschedule = cleaned != webhook.trigger_config
        webhook.trigger_config = cleaned
        changed.append("trigger_config")
    if action_config is not None:
        webhook.action_config = clean_action_config(action_config, webhook.workspace_id)
        changed.append("action_config")
    if enabled is not None and enabled != webhook.enabled:
        webhook.enabled = enabled
        reschedule = reschedule or enabled
        changed.append("enabled")
    if reschedule:
        webhook.next_run_at = next_slot_after(webhook, timezone.now())
        changed.append("next_run_at")
    if changed:
        try:
            with transaction.atomic():
                webhook.save(update_fields=changed)
        except IntegrityError:
            raise ConfigInvalid(taken(None, webhook.name)) from None
    return webhook


def rotate_secret(webhook: Webhook, user: AnyUser) -> str:
    """A new secret (shown once); the old one keeps verifying for WEBHOOK_ROTATION_OVERLAP_SECONDS."""
    _require_manage(user, webhook)
    secret = signing.new_secret()
    webhook.previous_secret_encrypted = webhook.secret_encrypted
    webhook.previous_secret_expires_at = timezone.now() + timedelta(seconds=settings.WEBHOOK_ROTATION_OVERLAP_SECONDS)
    webhook.secret_encrypted = signing.encrypt(secret, workspace_id=webhook.workspace_id)
    webhook.save(update_fields=["secret_encrypted", "previous_secret_encrypted", "previous_secret_expires_at"])
    logger.info("Webhook %s secret rotated by %s", webhook.name, user)
    return secret


def delete_webhook(webhook: Webhook, user: AnyUser) -> None:
    _require_manage(user, webhook)
    webhook.delete()


def valid_secrets(webhook: Webhook) -> list[str]:
    """The secrets a signature may be made with now: the current one, and the previous during the overlap."""
    found = [signing.decrypt(webhook.secret_encrypted, workspace_id=webhook.workspace_id)]
    if webhook.previous_secret_expires_at and webhook.previous_secret_expires_at > timezone.now():
        found.append(signing.decrypt(webhook.previous_secret_encrypted, workspace_id=webhook.workspace_id))
    return [secret for secret in found if secret]


class Replayed(Exception):
    """The message id was accepted before."""


class SlotTaken(Exception):
    """Another scheduler fired this cron slot."""


def fire(
    webhook: Webhook,
    payload: JSON,
    *,
    source: str,
    message_id: str | None = None,
    slot: datetime | None = None,
    skipped_slots: int = 0,
) -> WebhookExecution:
    """Record the firing, then submit its run as the webhook's user; the row says how it went.

    The row is written first: its unique message id (or cron slot) is what
    refuses a replay, before any run could start.
    """
    started = time.monotonic()
    try:
        with transaction.atomic():
            firing = WebhookExecution.objects.create(
                webhook=webhook,
                triggered_at=timezone.now(),
                trigger_payload=payload if isinstance(payload, dict) else {"payload": payload},
                source=source,
                message_id=message_id or "",
                slot=slot,
                skipped_slots=skipped_slots,
            )
    except IntegrityError:
        if slot is not None:
            raise SlotTaken from None
        raise Replayed from None
    execution: Execution | None = None
    error = ""
    try:
        config = webhook.action_config
        plan = fill_plan(config["plan"], payload) if config.get("plan") is not None else None
        execution = submit(
            user=webhook.user,
            workspace=webhook.workspace,
            request_text=render_request(config.get("request", ""), payload),
            plan=plan,
        )
    except (PermissionDenied, ValueError, KeyError) as exc:
        error = str(exc) or exc.__class__.__name__
        logger.warning("Webhook %s could not start a run: %s", webhook.name, error)
    firing.execution = execution
    firing.success = execution is not None
    firing.error = error
    firing.duration_ms = int((time.monotonic() - started) * 1000)
    firing.save(update_fields=["execution", "success", "error", "duration_ms"])
    return firing


def record_refusal(webhook: Webhook, *, status_code: int, reason: str, details: dict[str, Any]) -> WebhookExecution:
    """A refused request in the history: why, and its headers of interest, never its body."""
    return WebhookExecution.objects.create(
        webhook=webhook,
        triggered_at=timezone.now(),
        trigger_payload={"refused": details},
        source=FiringSource.HTTP,
        success=False,
        error=reason,
        status_code=status_code,
        duration_ms=0,
    )


def history(
    user: AnyUser,
    *,
    webhook_id: uuid.UUID | None = None,
    success: bool | None = None,
    source: str | None = None,
    since: datetime | None = None,
) -> QuerySet[WebhookExecution]:
    """Firings the user may see, newest first, filtered."""
    firings = scope(WebhookExecution.objects.select_related("webhook", "execution"), user)
    if webhook_id is not None:
        firings = firings.filter(webhook_id=webhook_id)
    if success is not None:
        firings = firings.filter(success=success)
    if source:
        firings = firings.filter(source=source)
    if since is not None:
        firings = firings.filter(triggered_at__gte=since)
    return firings.order_by("-triggered_at")
