from __future__ import annotations

from django.contrib import admin

from monitoring.models import Log, Metric, MetricRollup, RolledHour, Trace
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


@admin.register(MetricRollup)
class MetricRollupAdmin(ScopedSystemWrittenAdmin):
    list_display = ["hour", "workspace", "throttles", "stale", "rolled_at"]
    list_filter = ["stale"]
    date_hierarchy = "hour"


@admin.register(RolledHour)
class RolledHourAdmin(SystemWrittenAdmin, SuperuserOnlyAdmin):
    list_display = ["hour", "rolled_at"]
    date_hierarchy = "hour"
