"""Call limits per workspace for each integration's operation, in fixed windows.

A call is let through by one conditional UPDATE that increments the
window's count only while it is under the limit, so under any concurrency
no window ever counts past its limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from safety.models import RateLimit
from tenancy.models import Workspace


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int | None = None
    window_seconds: int | None = None
    retry_after: float = 0.0

    def describe(self, bucket: str) -> str:
        return f"rate limit {bucket}: {self.limit} per {self.window_seconds}s, next window in {self.retry_after:.0f}s"


def limit_for(workspace: Workspace | None, bucket: str) -> tuple[int, int] | None:
    """(limit, window seconds) for the bucket: the workspace's override, else the default."""
    override = ((workspace.integrations if workspace else {}) or {}).get("rate_limits", {}).get(bucket)
    if isinstance(override, dict) and {"limit", "window_seconds"} <= set(override):
        return int(override["limit"]), max(1, int(override["window_seconds"]))
    limits = settings.ORCHESTRATE_RATE_LIMITS
    # "mcp.*" covers every bucket of its integration (each MCP server is one) without a rule of its own.
    return limits.get(bucket) or limits.get(f"{bucket.partition('.')[0]}.*")


def take(workspace: Workspace | None, integration: str, operation: str, now: datetime | None = None) -> RateDecision:
    """Count one call if the window has room; otherwise say when the next window opens."""
    rule = limit_for(workspace, f"{integration}.{operation}")
    if rule is None:
        return RateDecision(allowed=True)
    limit, window = rule
    now = now or timezone.now()
    epoch = int(now.timestamp())
    window_start = datetime.fromtimestamp(epoch - epoch % window, tz=UTC)
    key = {"workspace": workspace, "integration": integration, "operation": operation, "window_start": window_start}
    if not RateLimit.objects.filter(**key).exists():
        try:
            with transaction.atomic():
                RateLimit.objects.create(**key, request_count=0)
        except IntegrityError:
            pass  # another caller opened the window first
    allowed = RateLimit.objects.filter(**key, request_count__lt=limit).update(request_count=F("request_count") + 1)
    retry_after = (window_start + timedelta(seconds=window) - now).total_seconds()
    return RateDecision(bool(allowed), limit, window, max(0.0, retry_after))
