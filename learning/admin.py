from __future__ import annotations

from django.contrib import admin

from learning.models import ExecutionFeedback, LearnedPattern, PatternOutcome, PromptVersion, RunRating
from tenancy.admin_scoping import ScopedSystemWrittenAdmin, SuperuserOnlyAdmin, WorkspaceScopedAdmin


@admin.register(ExecutionFeedback)
class ExecutionFeedbackAdmin(WorkspaceScopedAdmin):
    list_display = ["execution", "success", "user_rating", "duration_ms", "tokens_used", "steps_count", "created_at"]
    list_filter = ["success", "user_rating"]
    search_fields = ["execution__id", "user_comment"]
    raw_id_fields = ["execution"]


@admin.register(RunRating)
class RunRatingAdmin(WorkspaceScopedAdmin):
    list_display = ["execution", "user", "rating", "updated_at"]
    list_filter = ["rating"]
    search_fields = ["execution__id", "comment"]
    raw_id_fields = ["execution", "user"]
    read_only_for_staff = True  # people rate in the console, one rating each


@admin.register(LearnedPattern)
class LearnedPatternAdmin(WorkspaceScopedAdmin):
    list_display = ["description", "pattern_type", "workspace", "confidence", "usage_count", "success_rate", "enabled"]
    list_filter = ["pattern_type", "enabled", "promoted"]
    search_fields = ["description", "signature"]
    raw_id_fields = ["workspace"]


@admin.register(PatternOutcome)
class PatternOutcomeAdmin(ScopedSystemWrittenAdmin):
    list_display = ["pattern", "execution", "succeeded", "score", "created_at"]
    list_filter = ["succeeded"]
    raw_id_fields = ["pattern", "execution"]


@admin.register(PromptVersion)
class PromptVersionAdmin(SuperuserOnlyAdmin):
    list_display = ["agent_id", "version", "is_current", "performance_score", "token_efficiency", "success_rate"]
    list_filter = ["agent_id", "is_current"]
    search_fields = ["agent_id", "prompt", "note"]
