"""The result cache: a tool call answered once is answered again from here.

Keys are derived from the tool, its version, the normalised input, the
workspace and whatever else the tool says its answer depends on, so two
workspaces never share an entry and a new tool version never reads an old one.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from caching.models import CacheEntry


@dataclass(frozen=True)
class CacheHit:
    value: Any
    hit_count: int


def normalise(value: Any) -> str:
    """Canonical JSON: key order and whitespace never change a key."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def cache_key(*, tool: str, version: str, tool_input: Any, workspace_id: uuid.UUID | str, fingerprint: str = "") -> str:
    digest = hashlib.sha256(
        "\x1f".join([tool, version, str(workspace_id), normalise(tool_input), fingerprint]).encode()
    ).hexdigest()
    return f"tool:{tool}:{digest}"


def lookup(key: str) -> CacheHit | None:
    """The live entry for the key, counting the hit; None when absent or expired."""
    now = timezone.now()
    counted = CacheEntry.objects.filter(key=key, expires_at__gt=now).update(
        hit_count=F("hit_count") + 1, last_hit_at=now
    )
    if not counted:
        return None
    entry = CacheEntry.objects.filter(key=key).values("value", "hit_count").first()
    if entry is None:  # purged between the two queries
        return None
    return CacheHit(value=entry["value"], hit_count=entry["hit_count"])


def store(key: str, value: Any, ttl_seconds: int) -> None:
    """Keep a value for ttl_seconds; an expired entry under the same key is replaced."""
    now = timezone.now()
    fields = {"value": value, "ttl_seconds": ttl_seconds, "expires_at": now + timedelta(seconds=ttl_seconds)}
    updated = CacheEntry.objects.filter(key=key, expires_at__lte=now).update(
        **fields, created_at=now, hit_count=0, last_hit_at=None
    )
    if updated:
        return
    try:
        with transaction.atomic():
            CacheEntry.objects.create(key=key, **fields)
    except IntegrityError:
        pass  # another worker stored the same answer first


def purge_expired() -> int:
    deleted, _ = CacheEntry.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
