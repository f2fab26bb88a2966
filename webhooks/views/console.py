"""The webhook pages: list, create, one webhook (edit, enable, rotate, test, delete) and its history.

Everyone in a workspace sees its webhooks; operators create them and
manage their own; owners and admins manage all (webhooks.services decides).
A secret is shown in the answer to the request that made it and nowhere else.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from webhooks import services, signing
from webhooks.actions import ConfigInvalid
from webhooks.forms import HistoryFilterForm, WebhookForm
from webhooks.models import FiringSource, TriggerType, Webhook
from webhooks.receiving import receive

HISTORY_PAGE = 50


def _webhook(request: HttpRequest, webhook_id: uuid.UUID) -> Webhook:
    webhook = services.visible_webhooks(request.user).filter(pk=webhook_id).first()
    if webhook is None:
        raise Http404("No such webhook.")
    return webhook


def _require_manage(request: HttpRequest, webhook: Webhook) -> None:
    if not services.may_manage(request.user, webhook):
        raise PermissionDenied(_("Only the webhook's creator, workspace owners and admins may change it."))


@login_required
@require_http_methods(["GET", "POST"])
def webhook_list(request: HttpRequest) -> HttpResponse:
    """Every webhook of the user's workspaces; POST creates one in the current workspace."""
    workspace = request.workspace  # type: ignore[attr-defined]
    may_create = workspace is not None and services.may_create(request.user, workspace)
    form = WebhookForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if not may_create:
            raise PermissionDenied(_("You may not create webhooks here: viewers can only look."))
        if form.is_valid():
            try:
                created = services.create_webhook(
                    request.user,
                    workspace,
                    name=form.cleaned_data["name"],
                    trigger_type=form.cleaned_data["trigger_type"],
                    trigger_config=form.trigger_config(),
                    action_config=form.action_config(),
                    enabled=form.cleaned_data["enabled"],
                )
            except ConfigInvalid as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Created the webhook %(name)s.") % {"name": created.webhook.name})
                return _detail(request, created.webhook, new_secret=created.secret, status=201)
    webhooks = services.visible_webhooks(request.user).order_by("workspace__name", "name")
    context = {"webhooks": webhooks, "form": form, "may_create": may_create}
    return render(request, "webhooks/list.html", context, status=400 if form.is_bound else 200)


def curl_example(url: str, secret: str | None) -> str:
    """A shell snippet that signs a request the Standard Webhooks way and sends it."""
    shown_secret = secret or "whsec_...your secret..."
    return "\n".join(
        [
            f"SECRET='{shown_secret}'",
            'BODY=\'{"customer": {"name": "Ada"}}\'',
            'ID="msg_$(date +%s%N)"; TS="$(date +%s)"',
            'KEY="$(printf %s "${SECRET#whsec_}" | base64 -d | od -An -tx1 | tr -d \' \\n\')"',
            'SIG="$(printf %s "$ID.$TS.$BODY" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$KEY" -binary \\',
            '  | base64)"',
            f"curl -sS -X POST '{url}' -H 'Content-Type: application/json' \\",
            '  -H "webhook-id: $ID" -H "webhook-timestamp: $TS" -H "webhook-signature: v1,$SIG" \\',
            '  -d "$BODY"',
        ]
    )


def _detail(
    request: HttpRequest,
    webhook: Webhook,
    *,
    form: WebhookForm | None = None,
    new_secret: str | None = None,
    status: int = 200,
) -> HttpResponse:
    filters = HistoryFilterForm(request.GET or None)
    firings = services.history(request.user, webhook_id=webhook.pk, **filters.filters())
    page = Paginator(firings, HISTORY_PAGE).get_page(request.GET.get("page"))
    url = request.build_absolute_uri(reverse("webhook_inbound", args=[webhook.public_id]))
    context: dict[str, Any] = {
        "webhook": webhook,
        "may_manage": services.may_manage(request.user, webhook),
        "form": form or WebhookForm(initial=WebhookForm.initial_for(webhook), editing=webhook),
        "filters": filters,
        "page": page,
        "new_secret": new_secret,
        "url": url if webhook.trigger_type == TriggerType.HTTP else None,
        "curl": curl_example(url, new_secret) if webhook.trigger_type == TriggerType.HTTP else None,
        "plan_json": json.dumps(webhook.action_config.get("plan"), indent=2) if "plan" in webhook.action_config else "",
    }
    return render(request, "webhooks/detail.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def webhook_detail(request: HttpRequest, webhook_id: uuid.UUID) -> HttpResponse:
    """The webhook, its URL or schedule, its history; POST saves an edit."""
    webhook = _webhook(request, webhook_id)
    if request.method == "GET":
        return _detail(request, webhook)
    _require_manage(request, webhook)
    form = WebhookForm(request.POST, editing=webhook)
    if form.is_valid():
        try:
            services.update_webhook(
                webhook,
                request.user,
                name=form.cleaned_data["name"],
                trigger_config=form.trigger_config() if webhook.trigger_type == TriggerType.CRON else None,
                action_config=form.action_config(),
                enabled=form.cleaned_data["enabled"],
            )
        except ConfigInvalid as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Saved."))
            return redirect("webhooks:detail", webhook_id=webhook.pk)
    return _detail(request, webhook, form=form, status=400)


@login_required
@require_POST
def toggle(request: HttpRequest, webhook_id: uuid.UUID) -> HttpResponse:
    webhook = _webhook(request, webhook_id)
    services.update_webhook(webhook, request.user, enabled=not webhook.enabled)
    messages.success(
        request, (_("%(name)s is enabled.") if webhook.enabled else _("%(name)s is disabled.")) % {"name": webhook.name}
    )
    return redirect("webhooks:detail", webhook_id=webhook.pk)


@login_required
@require_POST
def rotate(request: HttpRequest, webhook_id: uuid.UUID) -> HttpResponse:
    webhook = _webhook(request, webhook_id)
    secret = services.rotate_secret(webhook, request.user)
    messages.success(request, _("New secret made; the previous one keeps working for a while so senders can switch."))
    return _detail(request, webhook, new_secret=secret)


@login_required
@require_POST
def send_test(request: HttpRequest, webhook_id: uuid.UUID) -> HttpResponse:
    """Fire the webhook with a sample payload: signed and checked like a real request for an HTTP webhook."""
    webhook = _webhook(request, webhook_id)
    _require_manage(request, webhook)
    payload = {"test": True, "sent_by": request.user.get_username()}
    if webhook.trigger_type == TriggerType.HTTP:
        body = json.dumps(payload).encode()
        message_id, timestamp = f"test_{uuid.uuid4().hex}", int(time.time())
        secret = signing.decrypt(webhook.secret_encrypted, workspace_id=webhook.workspace_id)
        headers = {
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signing.sign(secret, message_id, timestamp, body),
        }
        reception = receive(webhook.public_id, body, headers, source=FiringSource.TEST)
        ok, detail = reception.status == 202, f"answered {reception.status}: {reception.reason}"
    else:
        firing = services.fire(webhook, payload, source=FiringSource.TEST)
        ok, detail = bool(firing.success), firing.error or "a run started"
    (messages.success if ok else messages.error)(request, f"Test event {'sent' if ok else 'failed'}: {detail}")
    return redirect("webhooks:detail", webhook_id=webhook.pk)


@login_required
@require_POST
def delete(request: HttpRequest, webhook_id: uuid.UUID) -> HttpResponse:
    webhook = _webhook(request, webhook_id)
    services.delete_webhook(webhook, request.user)
    messages.success(request, _("Deleted the webhook %(name)s; its runs are kept.") % {"name": webhook.name})
    return redirect("webhooks:list")
