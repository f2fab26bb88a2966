"""Runs: list and create them, read one with its steps, context and messages, and act on it."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from api.serializers import (
    AnswerSerializer,
    ContextSerializer,
    ExecutionCreateSerializer,
    ExecutionDetailSerializer,
    ExecutionFilterSerializer,
    ExecutionSerializer,
    FeedbackSerializer,
    MessageSerializer,
    RatingSerializer,
    StepSerializer,
)
from api.views.base import get_scoped, query
from learning.services.feedback import RatingInvalid, feedback_of, rate_run, rating_of
from orchestration.engine import runs
from orchestration.models import Execution
from orchestration.questions import InvalidAnswer, QuestionClosed, answer_question
from tenancy.access import scope
from tenancy.models import Workspace
from tenancy.roles import Action


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The object is not in a state that allows this."
    default_code = "conflict"


def _execution(request: Request, pk: object) -> Execution:
    return get_scoped(Execution.objects.select_related("workspace", "user"), request, pk, "execution")


class ExecutionViewSet(viewsets.GenericViewSet):
    lookup_value_regex = "[^/]+"  # any id reaches the view, which answers 404 for a malformed one
    serializer_class = ExecutionSerializer

    def get_queryset(self) -> QuerySet[Execution]:
        return scope(Execution.objects.select_related("workspace", "user"), self.request.user)

    @extend_schema(parameters=[ExecutionFilterSerializer], responses=ExecutionSerializer(many=True))
    def list(self, request: Request) -> Response:
        """Runs of every workspace you belong to, newest first."""
        filters = query(ExecutionFilterSerializer, request)
        executions = self.get_queryset()
        if "status" in filters:
            executions = executions.filter(status=filters["status"])
        if "workspace" in filters:
            executions = executions.filter(workspace_id=filters["workspace"])
        if filters.get("q"):
            executions = executions.filter(request__icontains=filters["q"])
        if "created_after" in filters:
            executions = executions.filter(created_at__gte=filters["created_after"])
        if "created_before" in filters:
            executions = executions.filter(created_at__lt=filters["created_before"])
        page = self.paginate_queryset(executions.order_by("-created_at", "-pk"))
        return self.get_paginated_response(ExecutionSerializer(page, many=True).data)

    @extend_schema(request=ExecutionCreateSerializer, responses={201: ExecutionDetailSerializer})
    def create(self, request: Request) -> Response:
        """Submit a request (planned for you) or a plan (run as given) in one of your workspaces."""
        body = ExecutionCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if "workspace" in body.validated_data:
            workspace = Workspace.objects.for_user(request.user).filter(pk=body.validated_data["workspace"]).first()
            if workspace is None:
                raise NotFound("No such workspace.")
        else:
            workspace = Workspace.objects.for_user(request.user, Action.RUN).order_by("name").first()
            if workspace is None:
                raise PermissionDenied("You may not run requests in any workspace.")
        request_text = body.validated_data["request"].strip() or "Run the given plan"
        try:
            execution = runs.submit(
                user=request.user, workspace=workspace, request_text=request_text, plan=body.validated_data.get("plan")
            )
        except ValueError as exc:  # a plan the validator refused
            raise ValidationError({"plan": [str(exc)]}) from None
        return Response(ExecutionDetailSerializer(execution).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=ExecutionDetailSerializer)
    def retrieve(self, request: Request, pk: str) -> Response:
        """One run with its plan, result and steps."""
        execution = _execution(request, pk)
        return Response(ExecutionDetailSerializer(execution).data)

    @extend_schema(request=None, responses={200: ExecutionSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        """Stop the run: nothing new starts, running tools are told to stop. 409 when it had ended."""
        execution = _execution(request, pk)
        if not runs.cancel(execution, request.user):
            raise Conflict("The run has already ended.")
        execution.refresh_from_db()
        return Response(ExecutionSerializer(execution).data)

    def _run_again(self, request: Request, pk: str) -> Response:
        execution = _execution(request, pk)
        if not runs.resume_run(execution, request.user):
            raise Conflict("Only a failed or cancelled run that was planned can run again.")
        execution.refresh_from_db()
        return Response(ExecutionSerializer(execution).data)

    @extend_schema(request=None, responses={200: ExecutionSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        """Run the failed steps of a failed run again; succeeded steps keep their results."""
        return self._run_again(request, pk)

    @extend_schema(request=None, responses={200: ExecutionSerializer})
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str) -> Response:
        """Continue a cancelled (or failed) run from where it stopped."""
        return self._run_again(request, pk)

    @extend_schema(request=AnswerSerializer, responses={200: ExecutionDetailSerializer})
    @action(detail=True, methods=["post"])
    def answer(self, request: Request, pk: str) -> Response:
        """Answer the question a run waits on (status waiting_input); the run is planned again with it."""
        execution = _execution(request, pk)
        body = AnswerSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            answered = answer_question(execution, request.user, body.validated_data["answer"])
        except QuestionClosed as exc:
            raise Conflict(str(exc)) from None
        except InvalidAnswer as exc:
            raise ValidationError({"answer": [str(exc)]}) from None
        return Response(ExecutionDetailSerializer(answered).data)

    @extend_schema(methods=["GET"], request=None, responses={200: FeedbackSerializer})
    @extend_schema(methods=["PUT"], request=RatingSerializer, responses={200: FeedbackSerializer})
    @action(detail=True, methods=["get", "put"])
    def rating(self, request: Request, pk: str) -> Response:
        """Your rating of a finished run (PUT rates it, or changes your rating) and the run's feedback."""
        execution = _execution(request, pk)
        if request.method == "PUT":
            body = RatingSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            try:
                rate_run(request.user, execution, body.validated_data["rating"], body.validated_data["comment"])
            except RatingInvalid as exc:
                raise Conflict(str(exc)) from None
        elif not execution.is_finished:
            raise Conflict("Only a finished run has feedback.")
        feedback = feedback_of(execution)
        mine = rating_of(request.user, execution)
        return Response(
            FeedbackSerializer(
                {
                    "your_rating": mine.rating if mine else None,
                    "your_comment": mine.comment if mine else "",
                    "mean_rating": feedback.user_rating,
                    "success": feedback.success,
                    "duration_ms": feedback.duration_ms,
                    "tokens_used": feedback.tokens_used,
                    "steps_count": feedback.steps_count,
                    "error_count": feedback.error_count,
                    "patterns": [str(item) for item in feedback.patterns],
                }
            ).data
        )

    @extend_schema(responses=StepSerializer(many=True))
    @action(detail=True, methods=["get"])
    def steps(self, request: Request, pk: str) -> Response:
        execution = _execution(request, pk)
        page = self.paginate_queryset(execution.steps.order_by("step_number"))
        return self.get_paginated_response(StepSerializer(page, many=True).data)

    @extend_schema(responses=ContextSerializer(many=True))
    @action(detail=True, methods=["get"])
    def context(self, request: Request, pk: str) -> Response:
        """The run's shared context: what its agents wrote for each other."""
        execution = _execution(request, pk)
        page = self.paginate_queryset(execution.shared_context.order_by("key"))
        return self.get_paginated_response(ContextSerializer(page, many=True).data)

    @extend_schema(responses=MessageSerializer(many=True))
    @action(detail=True, methods=["get"])
    def messages(self, request: Request, pk: str) -> Response:
        """Messages between the run's agents (REQUEST, RESPONSE, NOTIFICATION), oldest first."""
        execution = _execution(request, pk)
        page = self.paginate_queryset(execution.messages.order_by("created_at", "pk"))
        return self.get_paginated_response(MessageSerializer(page, many=True).data)
