"""The database holds the spec's 25 tables with every column it lists,
and enforces the natural keys and value ranges."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from caching.models import CacheEntry
from learning.models import ExecutionFeedback, LearnedPattern, PromptVersion
from orchestration.models import AgentMessage, ExecutionStep, SharedContext
from persistence.models import ExecutionCheckpoint
from plugins.models import Plugin, PluginHook
from safety.models import RateLimit, ResourceLock
from tenancy.models import WorkspaceMember, WorkspacePermission
from tests.factories.orchestration import ExecutionFactory, ExecutionStepFactory
from tests.factories.tenancy import MemberFactory, UserFactory
from tools.models import ToolCatalog
from versioning.models import ABTest, PlanVersion
from webhooks.models import Webhook

SPEC_COLUMNS = {
    "executions": "id user_id workspace_id request plan status current_step total_steps result error "
    "created_at updated_at completed_at",
    "execution_steps": "id execution_id step_number agent_id status input output error started_at completed_at "
    "duration_ms tokens_used",
    "shared_context": "execution_id key value created_by created_at expires_at",
    "agent_messages": "id execution_id from_agent to_agent message_type payload in_reply_to created_at",
    "execution_checkpoints": "execution_id checkpoint_number state context created_at",
    "cache_entries": "key value ttl_seconds created_at expires_at hit_count last_hit_at",
    "execution_feedback": "execution_id user_rating user_comment success duration_ms tokens_used steps_count "
    "error_count patterns created_at",
    "learned_patterns": "id pattern_type description confidence usage_count success_rate last_used_at created_at",
    "prompt_versions": "agent_id version prompt performance_score token_efficiency success_rate created_at",
    "traces": "id execution_id parent_span_id name started_at ended_at duration_ms status metadata",
    "metrics": "id metric_name metric_value tags timestamp",
    "logs": "id execution_id source level message metadata timestamp",
    "pending_approvals": "id execution_id action_type action_data reason estimated_impact status created_at "
    "resolved_at resolved_by",
    "resource_locks": "resource_id locked_by locked_at expires_at",
    "rate_limits": "integration operation window_start request_count",
    "webhooks": "id user_id workspace_id name trigger_type trigger_config action_config enabled created_at",
    "webhook_executions": "id webhook_id triggered_at trigger_payload execution_id success error duration_ms",
    "workspaces": "id name created_at",
    "workspace_members": "workspace_id user_id role created_at",
    "workspace_permissions": "workspace_id resource_type resource_id permissions",
    "plugins": "id name version plugin_type config enabled installed_at",
    "plugin_hooks": "plugin_id hook_name execution_order",
    "plan_versions": "plan_id version plan_data metadata created_at",
    "ab_tests": "id name variant_a variant_b results status created_at",
    "tool_catalog": "id tool_type name capabilities metadata last_discovered_at",
}


def _columns(table: str) -> set[str]:
    with connection.cursor() as cursor:
        return {column.name for column in connection.introspection.get_table_description(cursor, table)}


@pytest.mark.django_db
def test_it_has_all_25_tables_with_every_spec_column():
    assert len(SPEC_COLUMNS) == 25
    tables = set(connection.introspection.table_names())
    for table, spec in SPEC_COLUMNS.items():
        assert table in tables, table
        present = _columns(table)
        # Exactly the spec's names, including the two relations it names without an _id suffix.
        missing = {name for name in spec.split() if name not in present}
        assert not missing, f"{table} lacks {sorted(missing)}"


def _violates(factory) -> bool:
    try:
        with transaction.atomic():
            factory()
    except IntegrityError:
        return True
    return False


@pytest.mark.django_db
def test_it_enforces_natural_keys():
    execution = ExecutionFactory.create()
    user = UserFactory.create()
    now = timezone.now()
    pairs = [
        lambda: MemberFactory.create(workspace=execution.workspace, user=user),
        lambda: ExecutionStepFactory.create(execution=execution, step_number=1),
        lambda: SharedContext.objects.create(execution=execution, key="found", created_by="drive"),
        lambda: ExecutionCheckpoint.objects.create(execution=execution, checkpoint_number=1),
        lambda: PlanVersion.objects.create(plan=execution, version=1, plan_data={}),
        lambda: PromptVersion.objects.create(agent_id="custom-agent", version=1, prompt="p"),
        lambda: RateLimit.objects.create(integration="smtp", operation="send", window_start=now),
        lambda: ResourceLock.objects.create(resource_id="file:a", locked_by="x", locked_at=now, expires_at=now),
        lambda: CacheEntry.objects.create(key="k", ttl_seconds=1, expires_at=now),
        lambda: ToolCatalog.objects.create(name="drive", tool_type="builtin", last_discovered_at=now),
        lambda: Webhook.objects.create(
            name="daily", workspace=execution.workspace, user=execution.user, trigger_type="cron"
        ),
        lambda: ABTest.objects.create(name="t", variant_a={}, variant_b={}),
        lambda: WorkspacePermission.objects.create(
            workspace=execution.workspace, user=user, resource_type="tool", resource_id="email", permissions=["approve"]
        ),
        lambda: WorkspacePermission.objects.create(
            workspace=execution.workspace, resource_type="tool", resource_id="web", permissions=["approve"]
        ),
    ]
    for make in pairs:
        assert not _violates(make), "the first row must be accepted"
        assert _violates(make), "a second row with the same natural key must be refused"
    plugin = Plugin.objects.create(name="p", version="1", plugin_type="hook")
    assert not _violates(lambda: PluginHook.objects.create(plugin=plugin, hook_name="step.finished"))
    assert _violates(lambda: PluginHook.objects.create(plugin=plugin, hook_name="step.finished"))
    assert WorkspaceMember.objects.filter(user=user).count() == 1


@pytest.mark.django_db
def test_it_enforces_value_ranges():
    execution = ExecutionFactory.create()
    refused = [
        lambda: ExecutionFeedback.objects.create(execution=execution, success=True, user_rating=6),
        lambda: ExecutionFeedback.objects.create(execution=execution, success=True, user_rating=0),
        lambda: LearnedPattern.objects.create(pattern_type="tool_sequence", description="d", confidence=1.5),
        lambda: LearnedPattern.objects.create(pattern_type="tool_sequence", description="d", success_rate=-0.1),
        lambda: PromptVersion.objects.create(agent_id="a", version=1, prompt="p", success_rate=2),
        lambda: PromptVersion.objects.create(agent_id="a", version=0, prompt="p"),
        lambda: ExecutionStepFactory.create(execution=execution, step_number=0),
        lambda: ExecutionFactory.create(status="exploded"),
        lambda: ExecutionFactory.create(current_step=3, total_steps=2),
        lambda: AgentMessage.objects.create(execution=execution, from_agent="a", to_agent="b", message_type="SHOUT"),
        lambda: MemberFactory.create(role="emperor"),
    ]
    for make in refused:
        assert _violates(make)
    accepted = [
        lambda: ExecutionFeedback.objects.create(execution=execution, success=True, user_rating=5),
        lambda: LearnedPattern.objects.create(pattern_type="tool_sequence", description="d", confidence=0.9),
        lambda: ExecutionStepFactory.create(
            execution=execution, step_number=2, started_at=timezone.now() - timedelta(1)
        ),
    ]
    for make in accepted:
        assert not _violates(make)


@pytest.mark.django_db
def test_it_cascades_a_workspace_deletion_to_its_runs():
    execution = ExecutionFactory.create()
    ExecutionStepFactory.create(execution=execution)
    execution.workspace.delete()
    assert not ExecutionStep.objects.exists()
