from __future__ import annotations

from django.contrib import admin

from monitoring.models import Log, Metric, Trace
from tenancy.admin_scoping import ScopedSystemWrittenAdmin, SuperuserOnlyAdmin, SystemWrittenAdmin


@admin.register(Trace)
class TraceAdmin(ScopedSystemWrittenAdmin):
    list_display = ["name", "execution", "status", "duration_ms", "started_at"]
    list_filter = ["status"]
    search_fields = ["name", "execution__id"]
    date_hierarchy = "started_at"


@admin.register(Metric)
class MetricAdmin(SystemWrittenAdmin, SuperuserOnlyAdmin):
    list_display = ["metric_name", "metric_value", "tags", "timestamp"]
    list_filter = ["metric_name"]
    search_fields = ["metric_name"]
    date_hierarchy = "timestamp"


@admin.register(Log)
class LogAdmin(ScopedSystemWrittenAdmin):
    list_display = ["timestamp", "level", "source", "message", "execution"]
    list_filter = ["level", "source"]
    search_fields = ["message", "execution__id"]
    date_hierarchy = "timestamp"
