from __future__ import annotations

from django.db import models


class CacheEntry(models.Model):
    """A stored result: the same query asked again is answered from here until it expires."""

    key = models.CharField(max_length=255, unique=True)
    value = models.JSONField(null=True)
    ttl_seconds = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)
    hit_count = models.PositiveIntegerField(default=0)
    last_hit_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "cache_entries"
        ordering = ["-created_at"]
        verbose_name_plural = "cache entries"

    def __str__(self) -> str:
        return self.key
