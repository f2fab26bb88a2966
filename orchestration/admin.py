from __future__ import annotations

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from orchestration.models import AgentMessage, Execution, ExecutionStep, SharedContext
from tenancy.admin_scoping import StaffReadOnlyInline, WorkspaceScopedAdmin


class ExecutionStepInline(StaffReadOnlyInline):
    model = ExecutionStep
    extra = 0
    fields = readonly_fields = ("step_number", "agent_id", "status", "duration_ms", "tokens_used", "error")
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # steps come from the plan


@admin.register(Execution)
class ExecutionAdmin(WorkspaceScopedAdmin):
    list_display = ["request", "workspace", "user", "status", "current_step", "total_steps", "created_at"]
    list_filter = ["status", "workspace"]
    search_fields = ["request", "id"]
    date_hierarchy = "created_at"
    list_select_related = ["workspace", "user"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [ExecutionStepInline]


@admin.register(ExecutionStep)
class ExecutionStepAdmin(WorkspaceScopedAdmin):
    list_display = ["execution", "step_number", "agent_id", "status", "duration_ms", "tokens_used", "started_at"]
    list_filter = ["status", "agent_id"]
    search_fields = ["execution__request", "agent_id", "execution__id"]
    list_select_related = ["execution"]
    raw_id_fields = ["execution"]


@admin.register(SharedContext)
class SharedContextAdmin(WorkspaceScopedAdmin):
    list_display = ["key", "execution", "created_by", "created_at", "expires_at"]
    list_filter = ["created_by"]
    search_fields = ["key", "execution__id"]
    raw_id_fields = ["execution"]


@admin.register(AgentMessage)
class AgentMessageAdmin(WorkspaceScopedAdmin):
    list_display = ["message_type", "from_agent", "to_agent", "execution", "created_at"]
    list_filter = ["message_type", "from_agent", "to_agent"]
    search_fields = ["execution__id", "from_agent", "to_agent"]
    raw_id_fields = ["execution", "in_reply_to"]
