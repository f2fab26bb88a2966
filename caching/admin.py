from __future__ import annotations

from django.contrib import admin

from caching.models import CacheEntry
from tenancy.admin_scoping import SuperuserOnlyAdmin


@admin.register(CacheEntry)
class CacheEntryAdmin(SuperuserOnlyAdmin):
    list_display = ["key", "ttl_seconds", "hit_count", "last_hit_at", "created_at", "expires_at"]
    search_fields = ["key"]
    date_hierarchy = "created_at"
    readonly_fields = ["created_at", "hit_count", "last_hit_at"]
