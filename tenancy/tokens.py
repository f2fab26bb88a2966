"""Personal API tokens: created (shown once), looked up by hash, revoked."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet
from django.utils import timezone

from tenancy.models import ApiToken

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

TOKEN_PREFIX = "orc_"
# last_used_at is written at most this often per token, not on every request.
TOUCH_SECONDS = 60


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # the only time the whole token exists outside the client


def create_token(user: AbstractBaseUser | AnonymousUser, name: str, *, days: int | None = 90) -> IssuedToken:
    """A new token for the user, expiring after `days` (None: never)."""
    name = name.strip()
    if not name:
        raise ValueError("Give the token a name, e.g. the script that will use it.")
    if days is not None and not 1 <= days <= 3650:
        raise ValueError("A token lasts from 1 to 3650 days (or never expires).")
    if user.pk is None:
        raise ValueError("Only a signed-in user has tokens.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user_id=user.pk,
        name=name[:100],
        prefix=secret[:12],
        token_hash=_hash(secret),
        expires_at=timezone.now() + timedelta(days=days) if days is not None else None,
    )
    return IssuedToken(token=token, secret=secret)


def active_tokens(user: AbstractBaseUser | AnonymousUser) -> QuerySet[ApiToken]:
    now = timezone.now()
    if user.pk is None:
        return ApiToken.objects.none()
    return ApiToken.objects.filter(user_id=user.pk, revoked_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )


def authenticate(secret: str) -> ApiToken | None:
    """The live token with this secret (its user active), or None."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    now = timezone.now()
    token = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=_hash(secret), revoked_at__isnull=True, user__is_active=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .first()
    )
    if token is not None and (
        token.last_used_at is None or now - token.last_used_at > timedelta(seconds=TOUCH_SECONDS)
    ):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def revoke(user: AbstractBaseUser | AnonymousUser, token_id: uuid.UUID | str) -> bool:
    """Revoke one of the user's own tokens; False when there is no such live token."""
    if user.pk is None:
        return False
    return bool(
        ApiToken.objects.filter(pk=token_id, user_id=user.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    )


def expiry_label(expires_at: datetime | None) -> str:
    return "never" if expires_at is None else f"{expires_at:%Y-%m-%d %H:%M} UTC"
