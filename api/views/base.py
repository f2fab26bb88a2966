"""What every API view shares: scoped lookups that answer 404 for anything the user may not see."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from django.contrib.auth.models import User
from django.db.models import Model, QuerySet
from rest_framework.exceptions import NotAuthenticated, NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.serializers import Serializer

from tenancy.access import scope

M = TypeVar("M", bound=Model)


def person(request: Request) -> User:
    """The signed-in user (every API view requires one)."""
    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated()
    return user


def parse_uuid(value: object, what: str = "object") -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(f"No such {what}.") from None


def get_scoped(queryset: QuerySet[M], request: Request, pk: object, what: str) -> M:
    """The row with this id among those the user may see; 404 otherwise (foreign rows are not told apart)."""
    found = scope(queryset, request.user).filter(pk=parse_uuid(pk, what)).first()
    if found is None:
        raise NotFound(f"No such {what}.")
    return found


def query(serializer_class: type[Serializer], request: Request) -> dict[str, Any]:
    """Validated query parameters; 400 naming the bad ones."""
    serializer = serializer_class(data=request.query_params)
    if not serializer.is_valid():
        raise ValidationError(serializer.errors)
    return dict(serializer.validated_data)
