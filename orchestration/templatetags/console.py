"""Template filters and tags of the console: durations, JSON shown as text (always autoescaped), step rows."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.safestring import SafeString

from orchestration.durations import duration_text
from orchestration.step_rows import step_row as step_row_html
from safety.secrets import shown

register = template.Library()


duration_ms = register.filter("duration_ms", duration_text)


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


@register.simple_tag
def step_row(view: Any, execution: Any, oob: bool = False) -> SafeString:
    """A step's row of the execution page (built in orchestration/step_rows.py)."""
    return step_row_html(view, execution, oob=oob)
