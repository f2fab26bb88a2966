from __future__ import annotations

from django import template

from safety.reasons import localised_reason

register = template.Library()

register.filter("localised_reason", localised_reason)
