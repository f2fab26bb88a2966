"""What the API reads and writes: plain views of the models, and the bodies of actions."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from orchestration.forms import MAX_REQUEST_CHARS
from orchestration.models import AgentMessage, Execution, ExecutionStatus, ExecutionStep, SharedContext
from safety.models import PendingApproval
from tenancy.models import Workspace, WorkspaceInvitation, WorkspaceMember
from tenancy.roles import Role
from webhooks.models import FiringSource, TriggerType, Webhook, WebhookExecution

Serializer = serializers.Serializer
ModelSerializer = serializers.ModelSerializer


class StepSerializer(ModelSerializer):
    agent = serializers.CharField(source="agent_id")

    class Meta:
        model = ExecutionStep
        fields = [
            *("id", "step_number", "agent", "tool", "status", "waiting_for", "depends_on", "optional", "input"),
            *("output", "error", "started_at", "completed_at", "duration_ms", "tokens_used", "cached", "attempts"),
        ]


class ExecutionSerializer(ModelSerializer):
    user: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    workspace: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = Execution
        fields = [
            *("id", "workspace", "user", "request", "status", "current_step", "total_steps", "error"),
            *("created_at", "updated_at", "completed_at"),
        ]


class ExecutionDetailSerializer(ExecutionSerializer):
    steps = StepSerializer(many=True, read_only=True)
    trigger = serializers.SerializerMethodField()

    class Meta(ExecutionSerializer.Meta):
        fields = [*ExecutionSerializer.Meta.fields, "plan", "result", "steps", "trigger", "question", "answers"]

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "properties": {"webhook": {"type": "string", "format": "uuid"}, "firing": {"type": "string"}},
        }
    )
    def get_trigger(self, execution: Execution) -> dict[str, str] | None:
        firing = execution.webhook_firings.first()
        if firing is None:
            return None
        return {"webhook": str(firing.webhook_id), "firing": str(firing.pk)}


class ExecutionCreateSerializer(Serializer):
    workspace = serializers.UUIDField(
        required=False, help_text="Where to run; default: your first workspace (by name) where you may run requests"
    )
    request = serializers.CharField(max_length=MAX_REQUEST_CHARS, required=False, default="")
    plan = serializers.JSONField(required=False, help_text="A plan to run as given, instead of planning the request")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("request", "").strip() and attrs.get("plan") is None:
            raise serializers.ValidationError({"request": "Give the request to run, or a plan."})
        if "plan" in attrs and not isinstance(attrs["plan"], dict):
            raise serializers.ValidationError({"plan": 'A plan is an object with a "steps" list.'})
        return attrs


class AnswerSerializer(Serializer):
    answer = serializers.CharField(max_length=2000, help_text="Free text, or one of the question's candidates")


class RatingSerializer(Serializer):
    rating = serializers.IntegerField(min_value=1, max_value=5, help_text="1 (poor) to 5 (excellent)")
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class FeedbackSerializer(Serializer):
    """A finished run's feedback: your rating, everyone's mean, and the run's own figures."""

    your_rating = serializers.IntegerField(allow_null=True)
    your_comment = serializers.CharField()
    mean_rating = serializers.IntegerField(allow_null=True, help_text="Everyone's ratings, rounded")
    success = serializers.BooleanField()
    duration_ms = serializers.IntegerField()
    tokens_used = serializers.IntegerField()
    steps_count = serializers.IntegerField()
    error_count = serializers.IntegerField()
    patterns = serializers.ListField(child=serializers.CharField(), help_text="The run's tool sequence")


class ExecutionFilterSerializer(Serializer):
    status = serializers.ChoiceField(choices=ExecutionStatus.choices, required=False)
    workspace = serializers.UUIDField(required=False)
    q = serializers.CharField(required=False, max_length=200, help_text="Text in the request")
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)


class ContextSerializer(ModelSerializer):
    class Meta:
        model = SharedContext
        fields = ["key", "value", "created_by", "created_at", "expires_at"]


class MessageSerializer(ModelSerializer):
    class Meta:
        model = AgentMessage
        fields = ["id", "from_agent", "to_agent", "message_type", "payload", "in_reply_to", "created_at"]


class ApprovalSerializer(ModelSerializer):
    resolved_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    step_number = serializers.IntegerField(source="step.step_number", read_only=True, allow_null=True, default=None)

    class Meta:
        model = PendingApproval
        fields = [
            *("id", "execution", "step_number", "action_type", "action_data", "reason", "estimated_impact"),
            *("status", "created_at", "expires_at", "resolved_at", "resolved_by", "comment"),
        ]


class DecisionSerializer(Serializer):
    comment = serializers.CharField(required=False, default="", allow_blank=True, max_length=2000)


class DriveFileSerializer(Serializer):
    name = serializers.CharField()
    size = serializers.IntegerField()
    modified_at = serializers.DateTimeField(allow_null=True)


class UploadSerializer(Serializer):
    file = serializers.FileField()
    name = serializers.CharField(required=False, max_length=500, help_text="Path in the drive; the file's own name")


class WorkspaceSerializer(ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Workspace
        fields = ["id", "name", "created_at", "role"]

    def get_role(self, workspace: Workspace) -> str | None:
        roles: dict[Any, str] = self.context.get("roles", {})
        return roles.get(workspace.pk)


class MemberSerializer(ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    email = serializers.CharField(source="user.email", read_only=True)

    class Meta:
        model = WorkspaceMember
        fields = ["id", "username", "email", "role", "created_at"]


class InvitationSerializer(ModelSerializer):
    class Meta:
        model = WorkspaceInvitation
        fields = ["id", "identifier", "role", "created_at"]


class MemberCreateSerializer(Serializer):
    user = serializers.CharField(max_length=254, help_text="Username or e-mail address of the person to invite")
    role = serializers.ChoiceField(choices=Role.choices)


class RoleSerializer(Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class MeSerializer(Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.CharField()
    workspaces = WorkspaceSerializer(many=True)


class WebhookSerializer(ModelSerializer):
    user: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="username", read_only=True)
    workspace = serializers.UUIDField(source="workspace_id")
    url = serializers.SerializerMethodField()
    trigger_type = serializers.ChoiceField(choices=TriggerType.choices)
    trigger_config = serializers.JSONField(required=False, help_text='cron: {"cron": "0 9 * * 1-5", "timezone": "UTC"}')
    action_config = serializers.JSONField(
        help_text='{"request": "... {{ payload.field }} ...", "plan": {...}, "notify_url": "https://..."}'
    )

    class Meta:
        model = Webhook
        fields = [
            *("id", "workspace", "user", "name", "trigger_type", "trigger_config", "action_config", "enabled"),
            *("created_at", "url", "next_run_at", "last_slot"),
        ]
        read_only_fields = ["id", "created_at", "next_run_at", "last_slot"]

    @extend_schema_field({"type": "string", "nullable": True})
    def get_url(self, webhook: Webhook) -> str | None:
        if webhook.trigger_type != TriggerType.HTTP:
            return None
        path = reverse("webhook_inbound", args=[webhook.public_id])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class WebhookUpdateSerializer(Serializer):
    name = serializers.CharField(max_length=100, required=False)
    trigger_config = serializers.JSONField(required=False)
    action_config = serializers.JSONField(required=False)
    enabled = serializers.BooleanField(required=False)


class WebhookCreatedSerializer(WebhookSerializer):
    secret = serializers.CharField(read_only=True, help_text="Shown this once: keep it to sign requests")

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]


class SecretSerializer(Serializer):
    secret = serializers.CharField(help_text="Shown this once; the previous secret still verifies for a while")


class FiringSerializer(ModelSerializer):
    class Meta:
        model = WebhookExecution
        fields = [
            *("id", "webhook", "triggered_at", "source", "trigger_payload", "execution", "success", "error"),
            *("duration_ms", "status_code", "slot", "skipped_slots", "notifications"),
        ]


class FiringFilterSerializer(Serializer):
    success = serializers.BooleanField(required=False, allow_null=True, default=None)
    # A declared field named like Field.source, DRF's own attribute: the field wins at run time.
    source = serializers.ChoiceField(choices=FiringSource.choices, required=False)  # type: ignore[assignment]
