"""Forms of the webhook pages: they shape input; webhooks.services and webhooks.actions decide what is valid."""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import available_timezones

from django import forms
from django.utils.translation import gettext_lazy as _

from webhooks.models import FiringSource, TriggerType, Webhook


class WebhookForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    trigger_type = forms.ChoiceField(choices=TriggerType.choices, initial=TriggerType.HTTP, label=_("Trigger"))
    cron = forms.CharField(
        required=False, max_length=100, label=_("Schedule (cron)"), help_text=_('e.g. "0 9 * * 1-5": weekdays at 9:00')
    )
    timezone = forms.ChoiceField(required=False, initial="UTC", label=_("Time zone"))
    request = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=10_000,
        label=_("Request to run"),
        help_text=_("May insert fields of the payload: {{ payload.customer.name }}"),
    )
    plan = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        label=_("Saved plan (JSON, optional)"),
        help_text=_('Run this plan instead of planning the request; {"$payload": "field"} inserts a payload field.'),
    )
    notify_url = forms.URLField(
        required=False, assume_scheme="https", label=_("Notify this URL when runs finish (optional)")
    )
    enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)

    def __init__(self, *args: Any, editing: Webhook | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        zone_field = self.fields["timezone"]
        assert isinstance(zone_field, forms.ChoiceField)
        zone_field.choices = [(zone, zone) for zone in sorted(available_timezones())]
        if editing is not None:
            del self.fields["trigger_type"]
            if editing.trigger_type != TriggerType.CRON:
                del self.fields["cron"], self.fields["timezone"]

    @classmethod
    def initial_for(cls, webhook: Webhook) -> dict[str, Any]:
        action = webhook.action_config
        return {
            "name": webhook.name,
            "cron": webhook.trigger_config.get("cron", ""),
            "timezone": webhook.trigger_config.get("timezone", "UTC"),
            "request": action.get("request", ""),
            "plan": json.dumps(action["plan"], indent=2) if action.get("plan") is not None else "",
            "notify_url": action.get("notify_url", ""),
            "enabled": webhook.enabled,
        }

    def clean_plan(self) -> Any:
        raw = self.cleaned_data["plan"].strip()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                _("Not valid JSON: %(problem)s (line %(line)d).") % {"problem": exc.msg, "line": exc.lineno}
            ) from None

    def trigger_config(self) -> dict[str, Any]:
        return {"cron": self.cleaned_data.get("cron", ""), "timezone": self.cleaned_data.get("timezone") or "UTC"}

    def action_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"request": self.cleaned_data["request"]}
        if self.cleaned_data["plan"] is not None:
            config["plan"] = self.cleaned_data["plan"]
        if self.cleaned_data["notify_url"]:
            config["notify_url"] = self.cleaned_data["notify_url"]
        return config


class HistoryFilterForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("Outcome"),
        required=False,
        choices=[("", _("Any outcome")), ("ok", _("Succeeded")), ("failed", _("Failed or refused"))],
    )
    source = forms.ChoiceField(
        label=_("Source"), required=False, choices=[("", _("Any source")), *FiringSource.choices]
    )

    def filters(self) -> dict[str, Any]:
        if not self.is_valid():
            return {}
        outcome = self.cleaned_data["outcome"]
        return {
            "success": {"ok": True, "failed": False}.get(outcome),
            "source": self.cleaned_data["source"] or None,
        }
