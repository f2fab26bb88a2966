"""The console language a person chose: saved on their preferences, brought back when they sign in."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest

from config.languages import is_supported, remember_in_session
from tenancy.models import UserPreference


def chosen_language(user: AbstractBaseUser | AnonymousUser) -> str | None:
    if not user.is_authenticated:
        return None
    return UserPreference.objects.filter(user_id=user.pk).values_list("language", flat=True).first()


def choose_language(request: HttpRequest, code: str) -> None:
    """Speak `code` to this person from now on, in this browser and every later sign-in."""
    if not is_supported(code):
        raise ValueError(f"unsupported language {code!r}")
    if request.user.is_authenticated:
        UserPreference.objects.update_or_create(user_id=request.user.pk, defaults={"language": code})
        remember_in_session(request, code)


def language_on_login(sender: Any, request: HttpRequest | None, user: AbstractBaseUser, **kwargs: Any) -> None:
    """user_logged_in receiver: the session starts in the person's chosen language."""
    code = chosen_language(user)
    if request is not None and code and hasattr(request, "session"):
        remember_in_session(request, code)
