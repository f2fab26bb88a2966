"""Template filters of the console: durations and JSON shown as text (always autoescaped)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.translation import gettext as _

from safety.secrets import shown

register = template.Library()


@register.filter
def duration_ms(value: int | None) -> str:
    """350 ms, 4.2 s, 3 min 05 s, 2 h 04 min; an em dash when unknown."""
    if value is None:
        return "—"
    if value < 1000:
        return _("%(ms)d ms") % {"ms": value}
    seconds = value / 1000
    if seconds < 60:
        return _("%(seconds).1f s") % {"seconds": seconds}
    minutes, second = divmod(int(seconds), 60)
    if minutes < 60:
        return _("%(minutes)d min %(seconds)02d s") % {"minutes": minutes, "seconds": second}
    hours, minute = divmod(minutes, 60)
    return _("%(hours)d h %(minutes)02d min") % {"hours": hours, "minutes": minute}


@register.filter
def run_duration(execution: Any) -> str:
    """How long a run took, or has been going for while it is active."""
    started: datetime | None = execution.created_at
    if started is None:
        return "—"
    ended = execution.completed_at or timezone.now()
    return duration_ms(max(0, int((ended - started).total_seconds() * 1000)))


@register.filter
def pretty_json(value: Any) -> str:
    """Indented JSON as plain text, secrets redacted; the template escapes it like any other string."""
    return json.dumps(shown(value), indent=2, ensure_ascii=False, sort_keys=True, default=str)
