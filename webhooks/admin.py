from __future__ import annotations

from django.contrib import admin

from tenancy.admin_scoping import WorkspaceScopedAdmin
from webhooks.models import Webhook, WebhookExecution


@admin.register(Webhook)
class WebhookAdmin(WorkspaceScopedAdmin):
    list_display = ["name", "workspace", "trigger_type", "enabled", "user", "created_at"]
    list_filter = ["trigger_type", "enabled", "workspace"]
    search_fields = ["name"]
    secret_fields = ["trigger_config"]  # the signing secret


@admin.register(WebhookExecution)
class WebhookExecutionAdmin(WorkspaceScopedAdmin):
    list_display = ["webhook", "triggered_at", "success", "duration_ms", "execution"]
    list_filter = ["success"]
    search_fields = ["webhook__name", "error"]
    date_hierarchy = "triggered_at"
    raw_id_fields = ["execution"]
