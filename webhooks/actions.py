"""What a webhook's configuration may say, and what a firing submits.

A request template may insert payload fields with `{{ payload.a.b }}` and
nothing else: no filters, no tags, no code; values are inserted as text.
A saved plan may take payload fields as step inputs with {"$payload": "a.b"}.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, croniter
from django.utils.translation import gettext as _

from orchestration.planning import PlanInvalid
from orchestration.planning.schema import validate_plan
from tools.base import ToolInputError
from tools.ssrf import parse_url

MAX_REQUEST_CHARS = 10_000
_FIELD = r"payload(?:\.[A-Za-z0-9_-]+)*"
_PLACEHOLDER = re.compile(r"\{\{\s*(" + _FIELD + r")\s*\}\}")
_ANY_BRACES = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
_MISSING = object()

JSON = dict[str, Any] | list[Any] | str | int | float | bool | None


class ConfigInvalid(ValueError):
    """A webhook's trigger or action configuration that cannot work; the message says why."""


def lookup(payload: JSON, dotted: str) -> JSON | object:
    """payload.a.b in the payload, or _MISSING; list items by index (payload.items.0)."""
    value: Any = {"payload": payload}
    for part in dotted.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _as_text(value: JSON | object) -> str:
    if value is _MISSING or value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def render_request(template: str, payload: JSON) -> str:
    """The request text with each {{ payload.x }} replaced by the field's value (empty when absent)."""
    text = _PLACEHOLDER.sub(lambda match: _as_text(lookup(payload, match.group(1))), template)
    return text[:MAX_REQUEST_CHARS]


def fill_plan(value: Any, payload: JSON) -> Any:
    """The saved plan with every {"$payload": "a.b"} replaced by that field of the payload (null when absent)."""
    if isinstance(value, dict):
        if set(value) == {"$payload"} and isinstance(value["$payload"], str):
            found = lookup(payload, "payload." + value["$payload"] if value["$payload"] else "payload")
            return None if found is _MISSING else found
        return {key: fill_plan(item, payload) for key, item in value.items()}
    if isinstance(value, list):
        return [fill_plan(item, payload) for item in value]
    return value


def clean_action_config(raw: Any, workspace_id: uuid.UUID | str | None = None) -> dict[str, Any]:
    """The action configuration in normal form, or ConfigInvalid saying what is wrong."""
    if not isinstance(raw, dict):
        raise ConfigInvalid(_("The action configuration must be an object."))
    unknown = sorted(set(raw) - {"request", "plan", "notify_url"})
    if unknown:
        raise ConfigInvalid(_("Unknown action settings: %(names)s.") % {"names": ", ".join(unknown)})
    request = raw.get("request") or ""
    plan = raw.get("plan")
    if not isinstance(request, str):
        raise ConfigInvalid(_("The request must be text."))
    request = request.strip()
    if not request and plan is None:
        raise ConfigInvalid(_("Give the request to run (it may insert {{ payload.field }}), or a saved plan."))
    if len(request) > MAX_REQUEST_CHARS:
        raise ConfigInvalid(_("The request is longer than %(count)d characters.") % {"count": MAX_REQUEST_CHARS})
    stray = [match.group(0) for match in _ANY_BRACES.finditer(request) if not _PLACEHOLDER.fullmatch(match.group(0))]
    if stray:
        raise ConfigInvalid(
            _("Only {{ payload.field }} may be inserted in the request, not %(found)s.") % {"found": stray[0]}
        )
    cleaned: dict[str, Any] = {"request": request}
    if plan is not None:
        try:
            # Payload fields are unknown until a firing: check the plan with them as text.
            # In its workspace: the workspace's own (MCP) tools are known there, tools it switched off are not.
            validate_plan(_placeholders_as_text(plan), planner="given", workspace=workspace_id)
        except PlanInvalid as exc:
            raise ConfigInvalid(_("The saved plan is not valid: %(problem)s") % {"problem": exc}) from None
        cleaned["plan"] = plan
        if not request:
            cleaned["request"] = "Saved plan"
    notify_url = raw.get("notify_url") or ""
    if notify_url:
        if not isinstance(notify_url, str):
            raise ConfigInvalid(_("The notification URL must be text."))
        try:
            cleaned["notify_url"] = parse_url(notify_url).url
        except ToolInputError as exc:
            raise ConfigInvalid(_("The notification URL is not usable: %(problem)s") % {"problem": exc}) from None
    return cleaned


def _placeholders_as_text(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$payload"}:
            return "payload field"
        return {key: _placeholders_as_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_placeholders_as_text(item) for item in value]
    return value


def clean_trigger_config(trigger_type: str, raw: Any) -> dict[str, Any]:
    """A cron webhook's {"cron", "timezone"} checked; an http webhook's config is empty."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigInvalid(_("The trigger configuration must be an object."))
    if trigger_type != "cron":
        return {}
    expression = raw.get("cron")
    if not isinstance(expression, str) or not expression.strip():
        raise ConfigInvalid(_('A schedule needs a cron expression, e.g. "0 9 * * 1-5".'))
    expression = " ".join(expression.split())
    if len(expression.split()) not in (5, 6):
        raise ConfigInvalid(
            _("A cron expression has 5 fields (minute hour day month weekday), or 6 with seconds last.")
        )
    try:
        croniter(expression, datetime(2026, 1, 1, tzinfo=ZoneInfo("UTC"))).get_next(datetime)
    except (CroniterBadCronError, ValueError, KeyError) as exc:
        raise ConfigInvalid(
            _("Not a valid cron expression: %(expression)r (%(problem)s).") % {"expression": expression, "problem": exc}
        ) from None
    zone = raw.get("timezone") or "UTC"
    try:
        ZoneInfo(str(zone))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigInvalid(_("Unknown time zone: %(zone)r (use a name like Europe/Paris).") % {"zone": zone}) from None
    return {"cron": expression, "timezone": str(zone)}
