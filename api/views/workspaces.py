"""Workspaces you belong to, their members (managed by owners and admins), and who you are."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.serializers import (
    InvitationSerializer,
    MemberCreateSerializer,
    MemberSerializer,
    MeSerializer,
    RoleSerializer,
    WorkspaceSerializer,
)
from api.views.base import get_scoped, person
from tenancy import invitations, services
from tenancy.access import may, scope
from tenancy.models import Workspace, WorkspaceMember
from tenancy.roles import Action
from tenancy.services import MembershipError


def _roles(request: Request) -> dict[Any, str]:
    return dict(WorkspaceMember.objects.filter(user_id=person(request).pk).values_list("workspace_id", "role"))


def _managed(request: Request, pk: object) -> Workspace:
    """A workspace of the user's (404 otherwise) whose members they may manage (403 otherwise)."""
    workspace = get_scoped(Workspace.objects.all(), request, pk, "workspace")
    if not may(request.user, Action.MANAGE_MEMBERS, workspace):
        raise PermissionDenied("Only owners and admins manage members.")
    return workspace


class WorkspaceViewSet(viewsets.GenericViewSet):
    lookup_value_regex = "[^/]+"  # any id reaches the view, which answers 404 for a malformed one
    serializer_class = WorkspaceSerializer

    def get_queryset(self) -> QuerySet[Workspace]:
        return scope(Workspace.objects.all(), self.request.user)

    @extend_schema(responses=WorkspaceSerializer(many=True))
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset().order_by("name"))
        return self.get_paginated_response(
            WorkspaceSerializer(page, many=True, context={"roles": _roles(request)}).data
        )

    @extend_schema(responses=WorkspaceSerializer)
    def retrieve(self, request: Request, pk: str) -> Response:
        workspace = get_scoped(Workspace.objects.all(), request, pk, "workspace")
        return Response(WorkspaceSerializer(workspace, context={"roles": _roles(request)}).data)

    @extend_schema(methods=["GET"], responses=MemberSerializer(many=True))
    @extend_schema(methods=["POST"], request=MemberCreateSerializer, responses={201: InvitationSerializer})
    @action(detail=True, methods=["get", "post"])
    def members(self, request: Request, pk: str) -> Response:
        """Members and roles (owners and admins); POST invites a person by username or e-mail.

        As in the console, nobody joins without accepting, and the answer is the same
        whether or not the name matches an account (tenancy/invitations.py).
        """
        workspace = _managed(request, pk)
        if request.method == "GET":
            members = WorkspaceMember.objects.filter(workspace=workspace).select_related("user")
            page = self.paginate_queryset(members.order_by("user__username", "pk"))
            return self.get_paginated_response(MemberSerializer(page, many=True).data)
        body = MemberCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            invitation = invitations.invite(
                person(request), workspace, body.validated_data["user"], body.validated_data["role"]
            )
        except MembershipError as exc:
            raise ValidationError({"user": [exc.message]}) from None
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)


class MemberView(APIView):
    @extend_schema(request=RoleSerializer, responses=MemberSerializer, operation_id="workspaces_members_update")
    def patch(self, request: Request, workspace_id: str, member_id: int) -> Response:
        """Change a member's role (only owners give or take the owner role; the last owner stays)."""
        workspace = _managed(request, workspace_id)
        body = RoleSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            member = services.change_role(person(request), workspace, member_id, body.validated_data["role"])
        except MembershipError as exc:
            raise ValidationError({"role": [exc.message]}) from None
        return Response(MemberSerializer(member).data)

    @extend_schema(responses={204: None}, operation_id="workspaces_members_remove")
    def delete(self, request: Request, workspace_id: str, member_id: int) -> Response:
        workspace = _managed(request, workspace_id)
        if not WorkspaceMember.objects.filter(workspace=workspace, pk=member_id).exists():
            raise NotFound("No such member.")
        try:
            services.remove_member(person(request), workspace, member_id)
        except MembershipError as exc:
            raise ValidationError({"member": [exc.message]}) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(responses=MeSerializer, operation_id="me")
    def get(self, request: Request) -> Response:
        """Who the token or session acts as, and their workspaces with their role in each."""
        workspaces = scope(Workspace.objects.all(), request.user).order_by("name")
        user = person(request)
        data: dict[str, Any] = {
            "id": user.pk,
            "username": user.get_username(),
            "email": getattr(user, "email", ""),
            "workspaces": [],
        }
        answer = MeSerializer(data, context={"roles": _roles(request)}).data
        answer["workspaces"] = WorkspaceSerializer(workspaces, many=True, context={"roles": _roles(request)}).data
        return Response(answer)
