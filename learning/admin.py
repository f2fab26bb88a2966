from __future__ import annotations

from django.contrib import admin

from learning.models import ExecutionFeedback, LearnedPattern, PromptVersion
from tenancy.admin_scoping import SuperuserOnlyAdmin, WorkspaceScopedAdmin


@admin.register(ExecutionFeedback)
class ExecutionFeedbackAdmin(WorkspaceScopedAdmin):
    list_display = ["execution", "success", "user_rating", "duration_ms", "tokens_used", "steps_count", "created_at"]
    list_filter = ["success", "user_rating"]
    search_fields = ["execution__id", "user_comment"]
    raw_id_fields = ["execution"]


@admin.register(LearnedPattern)
class LearnedPatternAdmin(SuperuserOnlyAdmin):
    list_display = ["description", "pattern_type", "confidence", "usage_count", "success_rate", "last_used_at"]
    list_filter = ["pattern_type"]
    search_fields = ["description"]


@admin.register(PromptVersion)
class PromptVersionAdmin(SuperuserOnlyAdmin):
    list_display = ["agent_id", "version", "performance_score", "token_efficiency", "success_rate", "created_at"]
    list_filter = ["agent_id"]
    search_fields = ["agent_id", "prompt"]
