"""The OpenAPI schema: every operation also documents the problem-details errors it may answer."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

from api.errors import PROBLEM_JSON


class ProblemSerializer(serializers.Serializer):
    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    # Named like Serializer.errors, which a declared field replaces in the schema only.
    errors = serializers.JSONField(required=False)  # type: ignore[assignment]


ERRORS = {
    "400": "The request is not valid; `errors` says what, field by field.",
    "401": "No valid token or session.",
    "403": "Your role in the workspace does not allow this.",
    "404": "No such object among those you may see.",
    "405": "This method is not allowed here.",
    "406": "The Accept header asks for a format this endpoint cannot give.",
    "409": "The object is not in a state that allows this.",
    "415": "The body's media type is not one this endpoint reads.",
    "429": "Too many requests with this token; see Retry-After.",
}


class ProblemAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        bodies: dict[str, Any] = super()._get_response_bodies(direction)
        problem = self.resolve_serializer(ProblemSerializer, "response").ref
        for code, description in ERRORS.items():
            bodies.setdefault(code, {"description": description, "content": {PROBLEM_JSON: {"schema": problem}}})
        return bodies


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "api.auth.TokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "A personal API token (orc_...)"}
