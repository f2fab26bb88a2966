"""Errors as RFC 9457 problem details: {"type", "title", "status", "detail", "errors"?}."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://orchestrate.invalid/problems/"


def problem(status: int, title: str, detail: str, code: str, errors: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": TYPE_BASE + code, "title": title, "status": status, "detail": detail}
    if errors is not None:
        body["errors"] = errors
    return body


def _flatten(detail: Any) -> str:
    if isinstance(detail, list):
        return " ".join(_flatten(item) for item in detail)
    if isinstance(detail, dict):
        return " ".join(f"{key}: {_flatten(value)}" for key, value in detail.items())
    return str(detail)


def handle(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, then the body reshaped; Http404 and PermissionDenied arrive already translated."""
    response = exception_handler(exc, context)
    if response is None:
        return None
    status = response.status_code
    if isinstance(exc, exceptions.ValidationError):
        body = problem(status, "Invalid request", _flatten(exc.detail), "invalid", errors=exc.detail)
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        body = problem(status, _title(status), _flatten(exc.detail), codes if isinstance(codes, str) else "error")
    else:
        body = problem(status, _title(status), _flatten(response.data), "error")
    response.data = body
    response.content_type = PROBLEM_JSON
    return response


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


@csrf_exempt  # an unknown URL answers 404 whatever the method, never a CSRF page
def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """The API's 404 for URLs no route matches (the console keeps Django's page)."""
    body = problem(404, "Not Found", "No such API endpoint.", "not_found")
    return JsonResponse(body, status=404, content_type=PROBLEM_JSON)
