from __future__ import annotations

from django.contrib import admin

from persistence.models import ExecutionCheckpoint
from tenancy.admin_scoping import ScopedSystemWrittenAdmin


@admin.register(ExecutionCheckpoint)
class ExecutionCheckpointAdmin(ScopedSystemWrittenAdmin):
    list_display = ["execution", "checkpoint_number", "created_at"]
    search_fields = ["execution__id"]
    date_hierarchy = "created_at"
