"""Leases on shared resources (a file, a calendar, a mailbox).

A lock is one row per resource. Taking it is one conditional UPDATE (free,
expired, or already ours) or one INSERT guarded by the unique resource id,
so two holders never hold it at once. A holder that dies stops renewing,
and its lock lapses at `expires_at`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from safety.models import ResourceLock


@dataclass(frozen=True)
class LockRefused:
    resource_id: str
    held_by: str


def _take(resource_id: str, holder: str, ttl_seconds: float) -> bool:
    now = timezone.now()
    expires = now + timedelta(seconds=ttl_seconds)
    taken = ResourceLock.objects.filter(Q(expires_at__lte=now) | Q(locked_by=holder), resource_id=resource_id).update(
        locked_by=holder, locked_at=now, expires_at=expires
    )
    if taken:
        return True
    try:
        with transaction.atomic():
            ResourceLock.objects.create(resource_id=resource_id, locked_by=holder, locked_at=now, expires_at=expires)
        return True
    except IntegrityError:
        return False


def acquire(resource_ids: list[str], holder: str, ttl_seconds: float) -> LockRefused | None:
    """Take every lock or none (in a fixed order, so two holders cannot deadlock); None on success."""
    taken: list[str] = []
    for resource_id in sorted(set(resource_ids)):
        if not _take(resource_id, holder, ttl_seconds):
            release(taken, holder)
            held_by = ResourceLock.objects.filter(resource_id=resource_id).values_list("locked_by", flat=True).first()
            return LockRefused(resource_id, held_by or "another step")
        taken.append(resource_id)
    return None


def renew(resource_ids: list[str], holder: str, ttl_seconds: float) -> int:
    expires = timezone.now() + timedelta(seconds=ttl_seconds)
    return ResourceLock.objects.filter(resource_id__in=resource_ids, locked_by=holder).update(expires_at=expires)


def release(resource_ids: list[str], holder: str) -> None:
    ResourceLock.objects.filter(resource_id__in=resource_ids, locked_by=holder).delete()
