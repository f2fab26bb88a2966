from __future__ import annotations

from typing import Any

from django import template

from monitoring import waterfall
from monitoring.views import DASHBOARD_POLL_SECONDS

register = template.Library()


@register.inclusion_tag("monitoring/inc/waterfall.html")
def execution_waterfall(execution: Any) -> dict[str, Any]:
    """The run's trace waterfall, for the execution page (which has already checked access)."""
    return {"execution": execution, "chart": waterfall.build(execution.pk), "poll_seconds": DASHBOARD_POLL_SECONDS}
