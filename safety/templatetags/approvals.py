from __future__ import annotations

from django import template

from safety.reasons import localised_reason, localised_waiting

register = template.Library()

register.filter("localised_reason", localised_reason)
register.filter("localised_waiting", localised_waiting)
