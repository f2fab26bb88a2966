"""Personal API tokens (`Authorization: Bearer orc_...`) beside the console's session."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth.models import AbstractBaseUser
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from tenancy.models import ApiToken
from tenancy.tokens import authenticate

KEYWORDS = (b"bearer", b"token")


def bearer_secret(header: bytes) -> str | None:
    """The token in an `Authorization: Bearer <token>` header value; None when it carries none."""
    parts = header.split()
    if len(parts) != 2 or parts[0].lower() not in KEYWORDS:
        return None
    try:
        return parts[1].decode("ascii")
    except UnicodeDecodeError:
        return None


async def bearer_is_valid(header: bytes) -> bool:
    """Whether the header carries a live API token (config.body_limits: such a request may upload)."""
    secret = bearer_secret(header)
    return secret is not None and await sync_to_async(authenticate)(secret) is not None


class TokenAuthentication(BaseAuthentication):
    keywords = KEYWORDS

    def authenticate(self, request: Request) -> tuple[AbstractBaseUser, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in self.keywords:
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("Send the token as `Authorization: Bearer <token>`.")
        try:
            secret = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed("The token is not valid.") from None
        token = authenticate(secret)
        if token is None:
            raise AuthenticationFailed("The token is not valid, has expired or was revoked.")
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        # Makes unauthenticated requests answer 401 (with this challenge), not 403.
        return 'Bearer realm="api"'


def token_of(request: Request) -> Any:
    return request.auth if isinstance(request.auth, ApiToken) else None
