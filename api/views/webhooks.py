"""Webhooks: CRUD, rotate the secret, the history of firings; the rules are webhooks.services'."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from api.serializers import (
    FiringFilterSerializer,
    FiringSerializer,
    SecretSerializer,
    WebhookCreatedSerializer,
    WebhookSerializer,
    WebhookUpdateSerializer,
)
from api.views.base import get_scoped, query
from tenancy.models import Workspace
from webhooks import services
from webhooks.actions import ConfigInvalid
from webhooks.models import TriggerType, Webhook


class WebhookFilterSerializer(serializers.Serializer):
    workspace = serializers.UUIDField(required=False)
    trigger_type = serializers.ChoiceField(choices=TriggerType.choices, required=False)
    enabled = serializers.BooleanField(required=False, allow_null=True, default=None)


def _webhooks() -> QuerySet[Webhook]:
    return Webhook.objects.select_related("workspace", "user")


class WebhookViewSet(viewsets.GenericViewSet):
    lookup_value_regex = "[^/]+"  # any id reaches the view, which answers 404 for a malformed one
    serializer_class = WebhookSerializer

    def get_queryset(self) -> QuerySet[Webhook]:
        return services.visible_webhooks(self.request.user)

    def _context(self) -> dict[str, object]:
        return {"request": self.request}

    @extend_schema(parameters=[WebhookFilterSerializer], responses=WebhookSerializer(many=True))
    def list(self, request: Request) -> Response:
        filters = query(WebhookFilterSerializer, request)
        webhooks = self.get_queryset()
        if "workspace" in filters:
            webhooks = webhooks.filter(workspace_id=filters["workspace"])
        if "trigger_type" in filters:
            webhooks = webhooks.filter(trigger_type=filters["trigger_type"])
        if filters.get("enabled") is not None:
            webhooks = webhooks.filter(enabled=filters["enabled"])
        page = self.paginate_queryset(webhooks.order_by("name", "pk"))
        return self.get_paginated_response(WebhookSerializer(page, many=True, context=self._context()).data)

    @extend_schema(request=WebhookSerializer, responses={201: WebhookCreatedSerializer})
    def create(self, request: Request) -> Response:
        """A new webhook that runs as you; the answer holds its secret, shown this once."""
        body = WebhookSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        workspace = Workspace.objects.for_user(request.user).filter(pk=data["workspace_id"]).first()
        if workspace is None:
            raise NotFound("No such workspace.")
        try:
            created = services.create_webhook(
                request.user,
                workspace,
                name=data["name"],
                trigger_type=data["trigger_type"],
                trigger_config=data.get("trigger_config"),
                action_config=data["action_config"],
                enabled=data.get("enabled", True),
            )
        except ConfigInvalid as exc:
            raise ValidationError({"detail": [str(exc)]}) from None
        answer = WebhookCreatedSerializer(created.webhook, context=self._context()).data
        answer["secret"] = created.secret
        return Response(answer, status=status.HTTP_201_CREATED)

    @extend_schema(responses=WebhookSerializer)
    def retrieve(self, request: Request, pk: str) -> Response:
        webhook = get_scoped(_webhooks(), request, pk, "webhook")
        return Response(WebhookSerializer(webhook, context=self._context()).data)

    @extend_schema(request=WebhookUpdateSerializer, responses=WebhookSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        """Change the name, schedule, action or enabled flag (the creator, owners and admins)."""
        webhook = get_scoped(_webhooks(), request, pk, "webhook")
        body = WebhookUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            services.update_webhook(webhook, request.user, **body.validated_data)
        except ConfigInvalid as exc:
            raise ValidationError({"detail": [str(exc)]}) from None
        return Response(WebhookSerializer(webhook, context=self._context()).data)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, pk: str) -> Response:
        services.delete_webhook(get_scoped(_webhooks(), request, pk, "webhook"), request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=SecretSerializer)
    @action(detail=True, methods=["post"])
    def rotate(self, request: Request, pk: str) -> Response:
        """A new secret, shown this once; the previous one verifies for WEBHOOK_ROTATION_OVERLAP_SECONDS more."""
        secret = services.rotate_secret(get_scoped(_webhooks(), request, pk, "webhook"), request.user)
        return Response({"secret": secret})

    @extend_schema(parameters=[FiringFilterSerializer], responses=FiringSerializer(many=True))
    @action(detail=True, methods=["get"])
    def history(self, request: Request, pk: str) -> Response:
        """The webhook's firings and refused requests, newest first."""
        webhook = get_scoped(_webhooks(), request, pk, "webhook")
        filters = query(FiringFilterSerializer, request)
        firings = services.history(
            request.user, webhook_id=webhook.pk, success=filters.get("success"), source=filters.get("source")
        )
        page = self.paginate_queryset(firings)
        return self.get_paginated_response(FiringSerializer(page, many=True).data)
