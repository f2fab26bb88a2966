"""Approvals: the critical actions waiting for a person, decided through safety's own service."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from api.serializers import ApprovalSerializer, DecisionSerializer
from api.views.base import get_scoped, query
from api.views.executions import Conflict
from safety.approvals import AlreadyDecided, decide
from safety.models import ApprovalStatus, PendingApproval
from tenancy.access import scope


class ApprovalFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ApprovalStatus.choices, required=False)
    execution = serializers.UUIDField(required=False)


def _approvals() -> QuerySet[PendingApproval]:
    return PendingApproval.objects.select_related("execution", "step", "resolved_by")


class ApprovalViewSet(viewsets.GenericViewSet):
    lookup_value_regex = "[^/]+"  # any id reaches the view, which answers 404 for a malformed one
    serializer_class = ApprovalSerializer

    def get_queryset(self) -> QuerySet[PendingApproval]:
        return scope(_approvals(), self.request.user)

    @extend_schema(parameters=[ApprovalFilterSerializer], responses=ApprovalSerializer(many=True))
    def list(self, request: Request) -> Response:
        """Approval requests of your workspaces, oldest pending first."""
        filters = query(ApprovalFilterSerializer, request)
        approvals = self.get_queryset()
        if "status" in filters:
            approvals = approvals.filter(status=filters["status"])
        if "execution" in filters:
            approvals = approvals.filter(execution_id=filters["execution"])
        page = self.paginate_queryset(approvals.order_by("created_at", "pk"))
        return self.get_paginated_response(ApprovalSerializer(page, many=True).data)

    @extend_schema(responses=ApprovalSerializer)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(ApprovalSerializer(get_scoped(_approvals(), request, pk, "approval")).data)

    def _decide(self, request: Request, pk: str, *, approve: bool) -> Response:
        approval = get_scoped(_approvals(), request, pk, "approval")
        body = DecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            decided = decide(approval, request.user, approve=approve, comment=body.validated_data["comment"])
        except AlreadyDecided as exc:
            raise Conflict(str(exc)) from None
        return Response(ApprovalSerializer(decided).data)

    @extend_schema(request=DecisionSerializer, responses=ApprovalSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        """Approve the action: the step runs exactly what was shown. 409 when already decided."""
        return self._decide(request, pk, approve=True)

    @extend_schema(request=DecisionSerializer, responses=ApprovalSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str) -> Response:
        """Reject the action: the step fails (or is skipped when optional). 409 when already decided."""
        return self._decide(request, pk, approve=False)
